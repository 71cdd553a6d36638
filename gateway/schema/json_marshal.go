package schema

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file writes the natural JSON mapping of Values (see json.go for the
// mapping and the parser).

// MarshalJSON returns the natural JSON encoding of v; see AppendJSON.
func MarshalJSON(v *altarv1.Value) ([]byte, error) {
	return AppendJSON(nil, v)
}

// maxMarshalDepth bounds AppendJSON's recursion: a Value built in memory
// may be arbitrarily deep, or even cyclic.
const maxMarshalDepth = 10000

// AppendJSON appends the natural JSON encoding of v to dst and returns the
// extended buffer (on error, dst as it was).
//
// The encoding is deterministic and parses back with ParseJSON to an equal
// Value, bytes aside: object keys are sorted by bytes; a double always
// carries a fraction or an exponent (3.0, 1e+21, 1.5e-7; the digits are the
// shortest that read back exactly) so it never comes back as an integer; an
// int_value is plain digits; strings are escaped as JSON requires (quotes,
// backslash and control characters) with everything else kept as UTF-8, and
// no HTML escaping; bytes_value is a standard, padded base64 string, which
// comes back from JSON as a string_value (the schema's coercion turns it into
// bytes where the schema says bytes).
//
// A Value JSON cannot carry is an *altarerr.Error with code
// ERROR_CODE_INVALID_ARGUMENTS (a caller encoding a tool's result may
// re-code it ERROR_CODE_INVALID_RESULT) and a FieldError naming the JSON
// pointer of the offending value, with Rule "kind" (a nil or unset Value),
// "finite" (NaN or an infinity), "utf8" (a string that is not valid UTF-8)
// or "max_depth" (nested deeper than 10000 levels, as a cycle would be).
func AppendJSON(dst []byte, v *altarv1.Value) ([]byte, error) {
	n := len(dst)
	out, merr := jsonAppendValue(dst, v, 0)
	if merr != nil {
		return dst[:n], merr.toError()
	}
	return out, nil
}

// jsonMarshalError is a failure deep inside AppendJSON; the path is collected
// on the way back up, in reverse, so the success path pays nothing for it.
type jsonMarshalError struct {
	rev  []string
	rule string
	msg  string
}

func (e *jsonMarshalError) toError() error {
	var b strings.Builder
	for i := len(e.rev) - 1; i >= 0; i-- {
		b.WriteByte('/')
		jsonEscapePointerToken(&b, e.rev[i])
	}
	path := b.String()
	shown := path
	if shown == "" {
		shown = "the root"
	}
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS,
		"cannot encode the value at %s as JSON: %s", shown, e.msg).WithField(path, e.rule, e.msg)
}

func jsonAppendValue(dst []byte, v *altarv1.Value, depth int) ([]byte, *jsonMarshalError) {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		return append(dst, "null"...), nil
	case *altarv1.Value_BoolValue:
		if k.BoolValue {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case *altarv1.Value_IntValue:
		return strconv.AppendInt(dst, k.IntValue, 10), nil
	case *altarv1.Value_DoubleValue:
		f := k.DoubleValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, &jsonMarshalError{rule: "finite", msg: fmt.Sprintf("%v is not a JSON number", f)}
		}
		return jsonAppendDouble(dst, f), nil
	case *altarv1.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return dst, &jsonMarshalError{rule: "utf8", msg: "string is not valid UTF-8"}
		}
		return jsonAppendString(dst, k.StringValue), nil
	case *altarv1.Value_BytesValue:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, k.BytesValue)
		return append(dst, '"'), nil
	case *altarv1.Value_ArrayValue:
		if depth >= maxMarshalDepth {
			return dst, &jsonMarshalError{rule: "max_depth", msg: fmt.Sprintf("nested deeper than %d levels (a cycle?)", maxMarshalDepth)}
		}
		dst = append(dst, '[')
		for i, item := range k.ArrayValue.GetItems() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err *jsonMarshalError
			if dst, err = jsonAppendValue(dst, item, depth+1); err != nil {
				err.rev = append(err.rev, strconv.Itoa(i))
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case *altarv1.Value_ObjectValue:
		if depth >= maxMarshalDepth {
			return dst, &jsonMarshalError{rule: "max_depth", msg: fmt.Sprintf("nested deeper than %d levels (a cycle?)", maxMarshalDepth)}
		}
		fields := k.ObjectValue.GetFields()
		dst = append(dst, '{')
		for i, name := range SortedKeys(fields) {
			if i > 0 {
				dst = append(dst, ',')
			}
			if !utf8.ValidString(name) {
				return dst, &jsonMarshalError{rule: "utf8", msg: "object key is not valid UTF-8"}
			}
			dst = jsonAppendString(dst, name)
			dst = append(dst, ':')
			var err *jsonMarshalError
			if dst, err = jsonAppendValue(dst, fields[name], depth+1); err != nil {
				err.rev = append(err.rev, name)
				return dst, err
			}
		}
		return append(dst, '}'), nil
	default:
		return dst, &jsonMarshalError{rule: "kind", msg: "value has no kind set (use null_value for null)"}
	}
}

// jsonAppendDouble writes f as JavaScript and encoding/json do (plain
// decimal for 1e-6 <= |f| < 1e21, exponent form otherwise; the shortest
// digits that read back exactly), then adds ".0" when the result has neither
// a fraction nor an exponent, so that it reads back as a double.
func jsonAppendDouble(dst []byte, f float64) []byte {
	n := len(dst)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if m := len(dst); m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
		return dst
	}
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

const jsonHexDigits = "0123456789abcdef"

// jsonAppendString writes s (valid UTF-8) as a JSON string.
func jsonAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', jsonHexDigits[c>>4], jsonHexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
