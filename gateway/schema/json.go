package schema

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file is the natural JSON mapping of Values (see value.proto):
//
//	JSON                              Value
//	null                              null_value (explicit, distinct from absent)
//	true, false                       bool_value
//	"..."                             string_value
//	number without fraction/exponent  int_value (must fit in int64)
//	number with fraction or exponent  double_value (must be finite)
//	[...]                             array_value
//	{...}                             object_value
//
// bytes_value is written as a standard base64 string and, JSON having no
// bytes type, read back as a string_value; the schema's coercion turns such a
// string into bytes where the schema says bytes.

// ParseJSON parses one JSON document into a Value, exactly: a number without
// a fraction or an exponent is an int_value (one outside the int64 range is
// refused, never silently made a double), a number with a fraction or an
// exponent ("3.0", "1e3") is a double_value (one that overflows to an
// infinity is refused), null is an explicit null_value, and strings are
// decoded with every JSON escape, surrogate pairs included.
//
// JSON has no bytes type: a base64 string comes back as a string_value. The
// schema's coercion turns it into bytes where the schema says bytes.
//
// ParseJSON is strict where JSON parsers commonly are lax: invalid UTF-8 (and
// an escaped lone surrogate), a key repeated within one object, and anything
// but whitespace after the value are errors, because each makes the
// document's meaning ambiguous.
//
// Errors are *altarerr.Error values:
//   - malformed JSON: ERROR_CODE_INVALID_REQUEST, the message naming the
//     byte offset and what was expected there;
//   - a number out of range: ERROR_CODE_INVALID_ARGUMENTS with a FieldError
//     whose Path is the number's JSON pointer and whose Rule is "range";
//   - a breached limit: ERROR_CODE_PAYLOAD_TOO_LARGE with a FieldError whose
//     Path is the JSON pointer (RFC 6901) of the offending place and whose
//     Rule is "max_bytes" (path ""), "max_depth" (the first value that is
//     one level too deep), "max_properties" (the object), "max_items" (the
//     array) or "max_string_bytes" (the string; the object, for a key).
//
// Depth is counted as Validate counts it: the top-level value is depth 1,
// its items or fields depth 2, and so on, scalars included, so a document
// ParseJSON accepts never breaches the depth limit in Validate. Zero fields
// of lim take the defaults. The parser keeps its own stack and never
// recurses, and the depth is checked before a value is entered.
func ParseJSON(data []byte, lim Limits) (*altarv1.Value, error) {
	p := newJSONParser(data, lim)
	defer p.release()
	return p.parseDocument()
}

// ParseJSONObject parses a JSON document whose top level must be an object,
// such as a tool call's arguments, and returns its fields (never nil on
// success). Everything else is as for ParseJSON; a top level that is not an
// object is ERROR_CODE_INVALID_REQUEST.
func ParseJSONObject(data []byte, lim Limits) (map[string]*altarv1.Value, error) {
	p := newJSONParser(data, lim)
	defer p.release()
	if len(data) <= p.lim.MaxBytes {
		p.skipSpace()
		if p.pos < len(data) && data[p.pos] != '{' {
			return nil, p.syntaxError("a JSON object")
		}
		p.pos = 0
	}
	v, err := p.parseDocument()
	if err != nil {
		return nil, err
	}
	return v.GetObjectValue().Fields, nil
}

// jsonParser is a single-pass, non-recursive JSON scanner. Containers being
// parsed are frames on stack; their finished children wait on vals (and, for
// objects, keys) until the container closes and is built at its exact size.
type jsonParser struct {
	data  []byte
	pos   int
	lim   Limits
	stack []jsonFrame
	vals  []*altarv1.Value
	keys  []jsonKey
	buf   []byte // scratch for strings with escapes
}

// jsonParsers keeps parsers' scratch stacks between calls.
var jsonParsers = sync.Pool{New: func() any { return new(jsonParser) }}

func newJSONParser(data []byte, lim Limits) *jsonParser {
	p := jsonParsers.Get().(*jsonParser)
	p.data, p.pos, p.lim = data, 0, lim.orDefault()
	return p
}

// release returns p to the pool, dropping what it holds on to: its input,
// the values and keys left by a failed parse, and scratch grown large.
func (p *jsonParser) release() {
	const maxKept = 1024
	clear(p.vals[:cap(p.vals)])
	clear(p.keys[:cap(p.keys)])
	*p = jsonParser{
		stack: jsonKeep(p.stack, maxKept),
		vals:  jsonKeep(p.vals, maxKept),
		keys:  jsonKeep(p.keys, maxKept),
		buf:   jsonKeep(p.buf, 64<<10),
	}
	jsonParsers.Put(p)
}

func jsonKeep[T any](s []T, maxCap int) []T {
	if cap(s) > maxCap {
		return nil
	}
	return s[:0]
}

type jsonFrame struct {
	object bool
	vals   int // index into vals of the first child
	keys   int // index into keys of the first key (objects)
}

type jsonKey struct {
	name   string
	offset int
}

func (p *jsonParser) parseDocument() (*altarv1.Value, error) {
	if len(p.data) > p.lim.MaxBytes {
		msg := fmt.Sprintf("document is %d bytes, more than the limit of %d", len(p.data), p.lim.MaxBytes)
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "JSON %s", msg).
			WithField("", "max_bytes", msg)
	}
	if len(p.data) == 0 {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "invalid JSON: empty input")
	}
	for {
		// Parse the start of one value: a scalar completely, a container up
		// to its first child (or its end, when empty).
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.syntaxError("a value")
		}
		if len(p.stack) >= p.lim.MaxDepth {
			msg := fmt.Sprintf("nested deeper than the limit of %d levels", p.lim.MaxDepth)
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE,
				"JSON value at offset %d is %s", p.pos, msg).WithField(p.pointer(len(p.stack)), "max_depth", msg)
		}
		var v *altarv1.Value
		switch c := p.data[p.pos]; c {
		case '{', '[':
			p.pos++
			p.stack = append(p.stack, jsonFrame{object: c == '{', vals: len(p.vals), keys: len(p.keys)})
			p.skipSpace()
			if c == '{' {
				if p.pos < len(p.data) && p.data[p.pos] == '}' {
					p.pos++
					v = p.closeObject()
					break
				}
				if err := p.parseKey(); err != nil {
					return nil, err
				}
				continue
			}
			if p.pos < len(p.data) && p.data[p.pos] == ']' {
				p.pos++
				v = p.closeArray()
				break
			}
			continue
		case '"':
			s, err := p.parseString(false)
			if err != nil {
				return nil, err
			}
			v = newJSONString(s)
		case 't':
			if err := p.literal("true"); err != nil {
				return nil, err
			}
			v = newJSONBool(true)
		case 'f':
			if err := p.literal("false"); err != nil {
				return nil, err
			}
			v = newJSONBool(false)
		case 'n':
			if err := p.literal("null"); err != nil {
				return nil, err
			}
			v = newJSONNull()
		default:
			if c != '-' && (c < '0' || c > '9') {
				return nil, p.syntaxError("a value")
			}
			var err error
			if v, err = p.parseNumber(); err != nil {
				return nil, err
			}
		}

		// v is complete: hand it to its container, then close every
		// container that ends here, until one continues or the document
		// ends.
		for {
			if len(p.stack) == 0 {
				p.skipSpace()
				if p.pos < len(p.data) {
					return nil, p.syntaxError("the end of input")
				}
				return v, nil
			}
			top := &p.stack[len(p.stack)-1]
			p.vals = append(p.vals, v)
			p.skipSpace()
			if p.pos >= len(p.data) {
				if top.object {
					return nil, p.syntaxError("',' or '}'")
				}
				return nil, p.syntaxError("',' or ']'")
			}
			c := p.data[p.pos]
			if top.object {
				if c == ',' {
					p.pos++
					p.skipSpace()
					if err := p.parseKey(); err != nil {
						return nil, err
					}
					break
				}
				if c != '}' {
					return nil, p.syntaxError("',' or '}' after an object member")
				}
				p.pos++
				v = p.closeObject()
				if v == nil {
					return nil, p.duplicateKeyError()
				}
				continue
			}
			if c == ',' {
				p.pos++
				if n := len(p.vals) - top.vals; n >= p.lim.MaxItems {
					msg := fmt.Sprintf("more than the limit of %d items", p.lim.MaxItems)
					return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE,
						"JSON array has %s", msg).WithField(p.pointer(len(p.stack)-1), "max_items", msg)
				}
				break
			}
			if c != ']' {
				return nil, p.syntaxError("',' or ']' after an array item")
			}
			p.pos++
			v = p.closeArray()
		}
	}
}

// parseKey parses `"name":` of the next member of the object on top of the
// stack, with p.pos at the key's opening quote.
func (p *jsonParser) parseKey() error {
	top := &p.stack[len(p.stack)-1]
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return p.syntaxError("'\"' to begin an object key")
	}
	if n := len(p.keys) - top.keys; n >= p.lim.MaxProperties {
		msg := fmt.Sprintf("more than the limit of %d properties", p.lim.MaxProperties)
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE,
			"JSON object has %s", msg).WithField(p.pointer(len(p.stack)-1), "max_properties", msg)
	}
	offset := p.pos
	name, err := p.parseString(true)
	if err != nil {
		return err
	}
	p.keys = append(p.keys, jsonKey{name: name, offset: offset})
	p.skipSpace()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.syntaxError("':' after an object key")
	}
	p.pos++
	return nil
}

// closeArray pops the array on top of the stack and returns it.
func (p *jsonParser) closeArray() *altarv1.Value {
	top := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	var items []*altarv1.Value
	if n := len(p.vals) - top.vals; n > 0 {
		items = make([]*altarv1.Value, n)
		copy(items, p.vals[top.vals:])
		clear(p.vals[top.vals:])
		p.vals = p.vals[:top.vals]
	}
	b := &jsonArrayBox{}
	b.a.Items = items
	b.k.ArrayValue = &b.a
	b.v.Kind = &b.k
	return &b.v
}

// closeObject pops the object on top of the stack and returns it, or
// returns nil and leaves the stack as it is when a key is repeated.
func (p *jsonParser) closeObject() *altarv1.Value {
	top := p.stack[len(p.stack)-1]
	keys := p.keys[top.keys:]
	vals := p.vals[top.vals:]
	fields := make(map[string]*altarv1.Value, len(keys))
	for i, k := range keys {
		if _, dup := fields[k.name]; dup {
			p.keys = append(p.keys[:top.keys], k) // duplicateKeyError reports it
			return nil
		}
		fields[k.name] = vals[i]
	}
	p.stack = p.stack[:len(p.stack)-1]
	clear(vals)
	p.vals = p.vals[:top.vals]
	p.keys = p.keys[:top.keys]
	b := &jsonObjectBox{}
	b.o.Fields = fields
	b.k.ObjectValue = &b.o
	b.v.Kind = &b.k
	return &b.v
}

func (p *jsonParser) duplicateKeyError() error {
	k := p.keys[len(p.keys)-1]
	path := p.pointer(len(p.stack))
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
		"invalid JSON at offset %d: object key %s appears more than once", k.offset, jsonQuoteShort(k.name)).
		WithField(path, "duplicate_key", "the key appears more than once in the object")
}

// pointer returns the JSON pointer of the value being parsed at stack level
// n: the path through the current child of each of the first n frames.
func (p *jsonParser) pointer(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		f := p.stack[i]
		b.WriteByte('/')
		if !f.object {
			end := len(p.vals)
			if i+1 < len(p.stack) {
				end = p.stack[i+1].vals
			}
			b.WriteString(strconv.Itoa(end - f.vals))
			continue
		}
		end := len(p.keys)
		if i+1 < len(p.stack) {
			end = p.stack[i+1].keys
		}
		if end > f.keys {
			jsonEscapePointerToken(&b, p.keys[end-1].name)
		}
	}
	return b.String()
}

// jsonEscapePointerToken writes s as one RFC 6901 reference token.
func jsonEscapePointerToken(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			b.WriteString("~0")
		case '/':
			b.WriteString("~1")
		default:
			b.WriteByte(s[i])
		}
	}
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) || p.data[p.pos] != word[i] {
			return p.syntaxError(fmt.Sprintf("%q", word))
		}
		p.pos++
	}
	return nil
}

// parseNumber parses a JSON number at p.pos.
func (p *jsonParser) parseNumber() (*altarv1.Value, error) {
	d := p.data
	start := p.pos
	if d[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	switch {
	case p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9':
		return nil, p.syntaxError("a digit")
	case d[p.pos] == '0':
		p.pos++
		if p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			return nil, p.syntaxError("'.', 'e' or the end of the number (no leading zeros)")
		}
	default:
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	intEnd := p.pos
	isDouble := false
	if p.pos < len(d) && d[p.pos] == '.' {
		isDouble = true
		p.pos++
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return nil, p.syntaxError("a digit after '.'")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		isDouble = true
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) || d[p.pos] < '0' || d[p.pos] > '9' {
			return nil, p.syntaxError("a digit in the exponent")
		}
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	}

	if isDouble {
		// string() here does not allocate: the compiler sees it does not
		// escape and uses a stack buffer for short numbers.
		f, err := strconv.ParseFloat(string(d[start:p.pos]), 64)
		if err != nil && !math.IsInf(f, 0) {
			// The grammar above admits only what ParseFloat accepts.
			return nil, p.syntaxError("a number")
		}
		if math.IsInf(f, 0) {
			return nil, p.rangeError(start, "number is too large for a double")
		}
		return newJSONDouble(f), nil
	}
	const cutoff = math.MaxUint64 / 10
	var u uint64
	for _, c := range d[digits:intEnd] {
		if u > cutoff {
			return nil, p.rangeError(start, "integer does not fit in int64")
		}
		u = u*10 + uint64(c-'0')
		if u < uint64(c-'0') {
			return nil, p.rangeError(start, "integer does not fit in int64")
		}
	}
	if digits > start { // negative
		if u > 1<<63 {
			return nil, p.rangeError(start, "integer does not fit in int64")
		}
		return newJSONInt(int64(-u)), nil // -(1<<63) wraps to MinInt64, as it should
	}
	if u > math.MaxInt64 {
		return nil, p.rangeError(start, "integer does not fit in int64")
	}
	return newJSONInt(int64(u)), nil
}

func (p *jsonParser) rangeError(offset int, msg string) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS,
		"JSON number at offset %d is out of range: %s (an integer must fit in int64; write a fraction or an exponent for a double)", offset, msg).
		WithField(p.pointer(len(p.stack)), "range", msg)
}

// parseString parses a JSON string at p.pos (its opening quote). The
// common case, no escapes, is one pass and one allocation.
func (p *jsonParser) parseString(isKey bool) (string, error) {
	d := p.data
	start := p.pos + 1
	i := start
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			if i-start > p.lim.MaxStringBytes {
				return "", p.stringTooLong(isKey)
			}
			p.pos = i + 1
			return string(d[start:i]), nil
		case c == '\\':
			return p.parseEscapedString(start, i, isKey)
		case c < 0x20:
			p.pos = i
			return "", p.syntaxError("a string character (control characters must be escaped)")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return "", p.syntaxError("valid UTF-8 in a string")
			}
			i += size
		}
		if i-start > p.lim.MaxStringBytes {
			return "", p.stringTooLong(isKey)
		}
	}
	p.pos = i
	return "", p.syntaxError("'\"' to end the string")
}

// parseEscapedString continues parseString from the first backslash at i.
func (p *jsonParser) parseEscapedString(start, i int, isKey bool) (string, error) {
	d := p.data
	buf := append(p.buf[:0], d[start:i]...)
	defer func() { p.buf = buf[:0] }()
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(d) {
				p.pos = i + 1
				return "", p.syntaxError("an escape character after '\\'")
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
				i += 2
			case 'b':
				buf = append(buf, '\b')
				i += 2
			case 'f':
				buf = append(buf, '\f')
				i += 2
			case 'n':
				buf = append(buf, '\n')
				i += 2
			case 'r':
				buf = append(buf, '\r')
				i += 2
			case 't':
				buf = append(buf, '\t')
				i += 2
			case 'u':
				r, ok := jsonHex4(d[i+2:])
				if !ok {
					p.pos = i + 2
					return "", p.syntaxError("four hex digits after '\\u'")
				}
				switch {
				case r >= 0xD800 && r < 0xDC00:
					lo, ok := rune(0), false
					if len(d) >= i+8 && d[i+6] == '\\' && d[i+7] == 'u' {
						lo, ok = jsonHex4(d[i+8:])
					}
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						p.pos = i + 6
						return "", p.syntaxError("a '\\u' low surrogate to complete the surrogate pair (a lone surrogate is not a character)")
					}
					buf = utf8.AppendRune(buf, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
					i += 12
				case r >= 0xDC00 && r < 0xE000:
					p.pos = i
					return "", p.syntaxError("a character, not a lone low surrogate")
				default:
					buf = utf8.AppendRune(buf, r)
					i += 6
				}
			default:
				p.pos = i + 1
				return "", p.syntaxError(`one of " \ / b f n r t u after '\'`)
			}
		case c < 0x20:
			p.pos = i
			return "", p.syntaxError("a string character (control characters must be escaped)")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return "", p.syntaxError("valid UTF-8 in a string")
			}
			buf = append(buf, d[i:i+size]...)
			i += size
		}
		if len(buf) > p.lim.MaxStringBytes {
			return "", p.stringTooLong(isKey)
		}
	}
	p.pos = i
	return "", p.syntaxError("'\"' to end the string")
}

func jsonHex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *jsonParser) stringTooLong(isKey bool) error {
	msg := fmt.Sprintf("longer than the limit of %d bytes", p.lim.MaxStringBytes)
	what, path := "string", p.pointer(len(p.stack))
	if isKey {
		what, path = "object key", p.pointer(len(p.stack)-1)
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "JSON %s is %s", what, msg).
		WithField(path, "max_string_bytes", msg)
}

// syntaxError reports what was expected at p.pos.
func (p *jsonParser) syntaxError(expected string) error {
	if p.pos >= len(p.data) {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"invalid JSON: unexpected end of input at offset %d: expected %s", p.pos, expected)
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
		"invalid JSON at offset %d: expected %s, found %s", p.pos, expected, jsonDescribeByte(p.data[p.pos:]))
}

// jsonDescribeByte names the character at the start of b for an error
// message.
func jsonDescribeByte(b []byte) string {
	if b[0] >= 0x20 && b[0] < utf8.RuneSelf {
		return fmt.Sprintf("%q", rune(b[0]))
	}
	if r, size := utf8.DecodeRune(b); r != utf8.RuneError || size > 1 {
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("byte 0x%02x", b[0])
}

// jsonQuoteShort quotes s for a message, cut short if long.
func jsonQuoteShort(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// The parser allocates each Value together with its oneof wrapper (and, for
// containers, the ArrayValue or ObjectValue): one allocation instead of two
// or three. The returned pointers are interior pointers into the box, which
// keeps the whole box alive; nothing else can tell.
type (
	jsonStringBox struct {
		v altarv1.Value
		k altarv1.Value_StringValue
	}
	jsonIntBox struct {
		v altarv1.Value
		k altarv1.Value_IntValue
	}
	jsonDoubleBox struct {
		v altarv1.Value
		k altarv1.Value_DoubleValue
	}
	jsonBoolBox struct {
		v altarv1.Value
		k altarv1.Value_BoolValue
	}
	jsonNullBox struct {
		v altarv1.Value
		k altarv1.Value_NullValue
	}
	jsonArrayBox struct {
		v altarv1.Value
		k altarv1.Value_ArrayValue
		a altarv1.ArrayValue
	}
	jsonObjectBox struct {
		v altarv1.Value
		k altarv1.Value_ObjectValue
		o altarv1.ObjectValue
	}
)

func newJSONString(s string) *altarv1.Value {
	b := &jsonStringBox{k: altarv1.Value_StringValue{StringValue: s}}
	b.v.Kind = &b.k
	return &b.v
}

func newJSONInt(i int64) *altarv1.Value {
	b := &jsonIntBox{k: altarv1.Value_IntValue{IntValue: i}}
	b.v.Kind = &b.k
	return &b.v
}

func newJSONDouble(f float64) *altarv1.Value {
	b := &jsonDoubleBox{k: altarv1.Value_DoubleValue{DoubleValue: f}}
	b.v.Kind = &b.k
	return &b.v
}

func newJSONBool(x bool) *altarv1.Value {
	b := &jsonBoolBox{k: altarv1.Value_BoolValue{BoolValue: x}}
	b.v.Kind = &b.k
	return &b.v
}

func newJSONNull() *altarv1.Value {
	b := &jsonNullBox{}
	b.v.Kind = &b.k
	return &b.v
}
