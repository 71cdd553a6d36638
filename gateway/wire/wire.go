package wire

import (
	"fmt"
	"mime"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Format is a wire format of protocol messages.
type Format int

const (
	// FormatJSON is canonical protobuf JSON (protojson).
	FormatJSON Format = iota
	// FormatBinary is the protobuf binary encoding.
	FormatBinary
)

// String returns "json" or "binary".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatBinary:
		return "binary"
	default:
		return "Format(" + strconv.Itoa(int(f)) + ")"
	}
}

// ContentType returns the media type to send with f: "application/json" or
// "application/x-protobuf" ("" for an unknown Format).
func (f Format) ContentType() string {
	switch f {
	case FormatJSON:
		return "application/json"
	case FormatBinary:
		return "application/x-protobuf"
	default:
		return ""
	}
}

// FormatFromContentType returns the format a Content-Type header names.
// Parameters are ignored, except that a JSON type's charset, if given, must
// be UTF-8 (JSON has no other).
//
// JSON: application/json and any application/*+json. Binary:
// application/x-protobuf, application/protobuf and
// application/vnd.google.protobuf.
//
// application/octet-stream is refused along with every other type: it says
// only "bytes", not which encoding they are in. A server that wants to accept
// it, or a missing header, can fall back to DetectFormat deliberately.
//
// A type that names no format is an *altarerr.Error with code
// ERROR_CODE_INVALID_REQUEST naming the content type.
func FormatFromContentType(ct string) (Format, error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err,
			"content type %q cannot be parsed; use application/json or application/x-protobuf", ct)
	}
	switch {
	case mt == "application/json" || (len(mt) > len("application/+json") &&
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")):
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
				"content type %q: JSON must be UTF-8, not charset %q", ct, cs)
		}
		return FormatJSON, nil
	case mt == "application/x-protobuf" || mt == "application/protobuf" || mt == "application/vnd.google.protobuf":
		return FormatBinary, nil
	default:
		return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"content type %q is not a message format; use application/json or application/x-protobuf", ct)
	}
}

// DetectFormat guesses the format of an encoded message: JSON if it begins
// with '{' (after optional JSON whitespace), binary otherwise, including for
// empty input (the binary encoding of a message with no fields set).
//
// No altar.v1 message's binary encoding begins with '{' (0x7b): as the first
// byte of a field tag, 0x7b is field 15 with wire type 3, the deprecated
// start-group type, which proto3 messages never emit; and the first byte of a
// multi-byte tag has its top bit set. A JSON object always begins with '{'.
//
// Leading whitespace is subtler: '\n' (0x0a) is also the binary tag of field
// 1 with length-delimited wire type, the commonest first byte of all
// (correlation_id), and a correlation_id of 123 bytes puts 0x7b right after
// it. So when '{' comes only after whitespace, the input is taken as binary
// if it reads as a well-formed sequence of protobuf fields, as every binary
// message does and JSON text practically never does.
func DetectFormat(data []byte) Format {
	i := 0
	for i < len(data) && isJSONSpace(data[i]) {
		i++
	}
	if i == len(data) || data[i] != '{' {
		return FormatBinary
	}
	if i > 0 && wellFormedBinary(data) {
		return FormatBinary
	}
	return FormatJSON
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// wellFormedBinary reports whether data parses as a sequence of protobuf
// fields (without checking them against any message).
func wellFormedBinary(data []byte) bool {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return false
		}
		data = data[n:]
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return false
		}
		data = data[n:]
	}
	return true
}

// Marshal encodes m in format f. JSON is canonical protojson
// (protojson.MarshalOptions{}): lowerCamelCase names, unpopulated fields
// left out; its whitespace is not byte-stable, so compare decoded messages,
// never JSON bytes. Binary is deterministic (map entries sorted), so equal
// messages encode to equal bytes within one build.
//
// A message that cannot be encoded (a string that is not UTF-8, a timestamp
// JSON cannot express) is an *altarerr.Error with code ERROR_CODE_INTERNAL
// wrapping the encoder's error: the caller built it.
func Marshal(m proto.Message, f Format) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch f {
	case FormatJSON:
		b, err = protojson.MarshalOptions{}.Marshal(m)
	case FormatBinary:
		b, err = proto.MarshalOptions{Deterministic: true}.Marshal(m)
	default:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "wire: cannot encode as unknown %v", f)
	}
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err,
			"cannot encode %s as %v", messageName(m), f)
	}
	return b, nil
}

// Limits bound what decoding a message may cost. Zero fields take the
// defaults.
type Limits struct {
	// MaxBytes is the largest encoded message.
	MaxBytes int
	// MaxDepth is the deepest nesting of messages, the top-level message
	// being depth 1 (the decoders' RecursionLimit). Every array or object in
	// a Value is two levels (Value, then ArrayValue or ObjectValue), and in
	// the binary format a map entry is one more.
	MaxDepth int
}

// Default limits. DefaultMaxBytes matches schema.DefaultMaxBytes.
// DefaultMaxDepth lets a Value nested as deep as schema.DefaultMaxDepth (64
// arrays or objects, 2 message levels each) through inside any envelope
// (HostMessage, ToolCall, a map entry, ...), so that the wire never refuses
// what the schema accepts: 2*64 + 16.
const (
	DefaultMaxBytes = 4 << 20
	DefaultMaxDepth = 2*64 + 16
)

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// fallbackDepth is the protobuf decoders' own default recursion limit. When
// a decode fails, decoding again under it tells a message that was merely
// too deep (ERROR_CODE_PAYLOAD_TOO_LARGE) from one that is malformed,
// without matching error strings.
const fallbackDepth = protowire.DefaultRecursionLimit

// Unmarshal decodes data in format f into m, replacing its contents.
//
// The size is checked first: data longer than lim.MaxBytes is refused
// unread. JSON is strict protojson: unknown fields are refused (not
// discarded), and both lowerCamelCase and proto field names are accepted.
// Binary keeps unknown fields, as protobuf does for forward compatibility;
// they survive a re-encoding.
//
// Errors are *altarerr.Error values: ERROR_CODE_PAYLOAD_TOO_LARGE with a
// FieldError of Rule "max_bytes" or "max_depth" for a breached limit,
// ERROR_CODE_MALFORMED_MESSAGE naming the message type and wrapping the
// decoder's error otherwise. (A message nested deeper even than the
// protobuf decoders' own limit of 10000 levels is reported as malformed,
// its cause saying the recursion depth was exceeded.) On error m is reset.
func Unmarshal(data []byte, m proto.Message, f Format, lim Limits) error {
	lim = lim.orDefault()
	if m == nil {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "wire: Unmarshal into a nil message")
	}
	if len(data) > lim.MaxBytes {
		msg := fmt.Sprintf("message is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "%s: %s", messageName(m), msg).
			WithField("", "max_bytes", msg)
	}
	err := decode(data, m, f, lim.MaxDepth)
	if err == nil {
		return nil
	}
	proto.Reset(m)
	if ae, ok := err.(*altarerr.Error); ok {
		return ae
	}
	if lim.MaxDepth < fallbackDepth {
		probe := m.ProtoReflect().Type().New().Interface()
		if decode(data, probe, f, fallbackDepth) == nil {
			msg := fmt.Sprintf("messages nested deeper than the limit of %d levels", lim.MaxDepth)
			return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, err, "%s has %s", messageName(m), msg).
				WithField("", "max_depth", msg)
		}
	}
	return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE, err,
		"cannot decode %s from %v", messageName(m), f)
}

func decode(data []byte, m proto.Message, f Format, depth int) error {
	switch f {
	case FormatJSON:
		return protojson.UnmarshalOptions{RecursionLimit: depth}.Unmarshal(data, m)
	case FormatBinary:
		return proto.UnmarshalOptions{RecursionLimit: depth}.Unmarshal(data, m)
	default:
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INTERNAL, "wire: cannot decode unknown %v", f)
	}
}

// UnmarshalDetect decodes data into m in the format DetectFormat sees, and
// returns that format, so that a reply can use the same one.
func UnmarshalDetect(data []byte, m proto.Message, lim Limits) (Format, error) {
	f := DetectFormat(data)
	return f, Unmarshal(data, m, f, lim)
}

func messageName(m proto.Message) string {
	if m == nil {
		return "<nil message>"
	}
	return string(m.ProtoReflect().Descriptor().FullName())
}
