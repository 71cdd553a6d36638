package wire_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// checkError asserts err is an *altarerr.Error with the code and, when rule
// is not empty, a field error with that rule.
func checkError(t *testing.T, err error, code altarv1.ErrorCode, rule string) *altarerr.Error {
	t.Helper()
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *altarerr.Error", err, err)
	}
	if ae.Code != code {
		t.Fatalf("code = %v, want %v (%v)", ae.Code, code, err)
	}
	if rule != "" && (len(ae.Fields) != 1 || ae.Fields[0].GetRule() != rule) {
		t.Fatalf("fields = %v, want one with rule %s", ae.Fields, rule)
	}
	return ae
}

func TestFormat(t *testing.T) {
	tests := []struct {
		f    wire.Format
		name string
		ct   string
	}{
		{wire.FormatJSON, "json", "application/json"},
		{wire.FormatBinary, "binary", "application/x-protobuf"},
		{wire.Format(7), "Format(7)", ""},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.name {
			t.Errorf("String() = %q, want %q", got, tt.name)
		}
		if got := tt.f.ContentType(); got != tt.ct {
			t.Errorf("%v.ContentType() = %q, want %q", tt.f, got, tt.ct)
		}
		if tt.ct == "" {
			continue
		}
		if got, err := wire.FormatFromContentType(tt.f.ContentType()); err != nil || got != tt.f {
			t.Errorf("FormatFromContentType(%q) = %v, %v; want %v", tt.ct, got, err, tt.f)
		}
	}
}

func TestFormatFromContentType(t *testing.T) {
	tests := []struct {
		ct   string
		want wire.Format
		ok   bool
	}{
		{"application/json", wire.FormatJSON, true},
		{"application/json; charset=utf-8", wire.FormatJSON, true},
		{"Application/JSON; Charset=UTF-8", wire.FormatJSON, true},
		{"application/json;charset=\"utf-8\"", wire.FormatJSON, true},
		{"application/problem+json", wire.FormatJSON, true},
		{"application/vnd.altar.v1+json", wire.FormatJSON, true},
		{"application/x-protobuf", wire.FormatBinary, true},
		{"application/x-protobuf; proto=altar.v1.HostMessage", wire.FormatBinary, true},
		{"application/protobuf", wire.FormatBinary, true},
		{"application/vnd.google.protobuf", wire.FormatBinary, true},
		{"APPLICATION/X-PROTOBUF", wire.FormatBinary, true},
		{"application/json; charset=latin1", 0, false},
		{"application/octet-stream", 0, false},
		{"text/json", 0, false},
		{"text/plain", 0, false},
		{"application/x-www-form-urlencoded", 0, false},
		{"application/grpc", 0, false},
		{"application/jsonx", 0, false},
		{"application/+json", 0, false},
		{"json", 0, false},
		{"", 0, false},
		{"application/json; charset", 0, false},
		{";;;", 0, false},
	}
	for _, tt := range tests {
		got, err := wire.FormatFromContentType(tt.ct)
		if !tt.ok {
			if err == nil {
				t.Errorf("FormatFromContentType(%q) = %v, want an error", tt.ct, got)
				continue
			}
			ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "")
			if !strings.Contains(ae.Message, `"`+tt.ct+`"`) {
				t.Errorf("error %q does not name the content type %q", ae.Message, tt.ct)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FormatFromContentType(%q) = %v, %v; want %v", tt.ct, got, err, tt.want)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	// A correlation_id of 123 bytes: the binary encoding starts 0x0a 0x7b,
	// which is "\n{".
	long := &altarv1.HostMessage{CorrelationId: strings.Repeat("x", 123)}
	longBin, err := proto.Marshal(long)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(longBin), "\n{") {
		t.Fatalf("test setup: encoding starts %q", longBin[:2])
	}
	tests := []struct {
		name string
		in   []byte
		want wire.Format
	}{
		{"empty", nil, wire.FormatBinary},
		{"object", []byte(`{}`), wire.FormatJSON},
		{"object with fields", []byte(`{"correlationId":"c"}`), wire.FormatJSON},
		{"leading whitespace", []byte(" \t\r\n{\"a\":1}"), wire.FormatJSON},
		{"newline then object", []byte("\n{\"correlationId\":\"c\"}"), wire.FormatJSON},
		{"whitespace only", []byte(" \n"), wire.FormatBinary},
		{"binary field 1", []byte{0x0a, 0x01, 'c'}, wire.FormatBinary},
		{"binary 0x0a 0x7b", longBin, wire.FormatBinary},
		{"array is not a message", []byte(`[1]`), wire.FormatBinary},
		{"garbage", []byte{0xff, 0x00}, wire.FormatBinary},
	}
	for _, tt := range tests {
		if got := wire.DetectFormat(tt.in); got != tt.want {
			t.Errorf("%s: DetectFormat(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
	var back altarv1.HostMessage
	if f, err := wire.UnmarshalDetect(longBin, &back, wire.Limits{}); err != nil || f != wire.FormatBinary || !proto.Equal(&back, long) {
		t.Errorf("UnmarshalDetect of \\n{-prefixed binary = %v, %v", f, err)
	}
}

func sampleInvoke() *altarv1.InvokeRequest {
	return &altarv1.InvokeRequest{
		ToolName:     "weather.get",
		InvocationId: "inv-1",
		Parameters: map[string]*altarv1.Value{
			"city":  schema.String("Paris"),
			"days":  schema.Int(9007199254740993),
			"ratio": schema.Double(1),
			"raw":   schema.Bytes([]byte{0, 1, 2}),
			"none":  schema.Null(),
		},
		Timeout:  durationpb.New(1500 * time.Millisecond),
		Metadata: map[string]string{"k": "v"},
	}
}

func TestMarshalJSONIsCanonicalProtoJSON(t *testing.T) {
	msg := sampleInvoke()
	b, err := wire.Marshal(msg, wire.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"toolName"`, `"invocationId"`, `"9007199254740993"`, `"1.500s"`, `"nullValue"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON %s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "tool_name") || strings.Contains(s, "sessionId") {
		t.Errorf("JSON %s has proto names or unpopulated fields", s)
	}
	var back altarv1.InvokeRequest
	if err := wire.Unmarshal(b, &back, wire.FormatJSON, wire.Limits{}); err != nil || !proto.Equal(&back, msg) {
		t.Fatalf("round trip = %v, %v", &back, err)
	}
}

func TestUnmarshalAcceptsProtoNames(t *testing.T) {
	in := `{"tool_name":"t","invocationId":"i","parameters":{"a":{"int_value":"5"}}}`
	var got altarv1.InvokeRequest
	if err := wire.Unmarshal([]byte(in), &got, wire.FormatJSON, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	want := &altarv1.InvokeRequest{ToolName: "t", InvocationId: "i", Parameters: map[string]*altarv1.Value{"a": schema.Int(5)}}
	if !proto.Equal(&got, want) {
		t.Fatalf("got %v, want %v", &got, want)
	}
}

func TestUnmarshalRefusesUnknownJSONFields(t *testing.T) {
	for _, in := range []string{
		`{"toolName":"t","surprise":1}`,
		`{"parameters":{"a":{"intValue":"1","extra":true}}}`,
		`{"timeout":"1s","TOOLNAME":"x"}`,
	} {
		var got altarv1.InvokeRequest
		err := wire.Unmarshal([]byte(in), &got, wire.FormatJSON, wire.Limits{})
		ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE, "")
		if !strings.Contains(ae.Message, "altar.v1.InvokeRequest") || ae.Unwrap() == nil {
			t.Errorf("error %v does not name the type or wrap the cause", err)
		}
		if !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("error %v does not say the field is unknown", err)
		}
		if !proto.Equal(&got, &altarv1.InvokeRequest{}) {
			t.Errorf("message not reset after an error: %v", &got)
		}
	}
}

func TestUnmarshalKeepsUnknownBinaryFields(t *testing.T) {
	known, _ := proto.Marshal(&altarv1.HostMessage{CorrelationId: "c"})
	unknown := append(known, 0xf8, 0x3e, 0x01) // field 999, varint 1
	var got altarv1.HostMessage
	if err := wire.Unmarshal(unknown, &got, wire.FormatBinary, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	again, err := wire.Marshal(&got, wire.FormatBinary)
	if err != nil || string(again) != string(unknown) {
		t.Fatalf("re-encoding = %x, %v; want %x", again, err, unknown)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		f    wire.Format
	}{
		{"json syntax", `{"toolName":`, wire.FormatJSON},
		{"json wrong type", `{"toolName":5}`, wire.FormatJSON},
		{"json not an object", `[]`, wire.FormatJSON},
		{"json empty", ``, wire.FormatJSON},
		{"json bad enum", `{"error":{"code":"NO_SUCH_CODE"}}`, wire.FormatJSON},
		{"json duplicate field", `{"correlationId":"a","correlation_id":"b"}`, wire.FormatJSON},
		{"json two oneof members", `{"heartbeat":{},"drain":{}}`, wire.FormatJSON},
		{"json bad timestamp", `{"heartbeat":{"sentAt":"yesterday"}}`, wire.FormatJSON},
		{"json trailing", `{} x`, wire.FormatJSON},
		{"binary truncated", "\x0a\x05ab", wire.FormatBinary},
		{"binary bad tag", "\x00", wire.FormatBinary},
		{"binary invalid utf8", "\x0a\x01\xff", wire.FormatBinary},
		{"binary group", "\x7b", wire.FormatBinary},
		{"json as binary", `{"correlationId":"c"}`, wire.FormatBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m altarv1.HostMessage
			err := wire.Unmarshal([]byte(tt.in), &m, tt.f, wire.Limits{})
			ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE, "")
			if !strings.Contains(ae.Message, "altar.v1.HostMessage") || errors.Unwrap(err) == nil {
				t.Errorf("error %v does not name the type or wrap the cause", err)
			}
		})
	}
}

func TestUnmarshalSizeLimit(t *testing.T) {
	msg := &altarv1.HostMessage{CorrelationId: strings.Repeat("c", 100)}
	for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
		b, err := wire.Marshal(msg, f)
		if err != nil {
			t.Fatal(err)
		}
		var got altarv1.HostMessage
		if err := wire.Unmarshal(b, &got, f, wire.Limits{MaxBytes: len(b)}); err != nil {
			t.Errorf("%v at exactly the limit: %v", f, err)
		}
		err = wire.Unmarshal(b, &got, f, wire.Limits{MaxBytes: len(b) - 1})
		ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "max_bytes")
		if ae.Fields[0].GetPath() != "" {
			t.Errorf("path = %q, want the root", ae.Fields[0].GetPath())
		}
		// The size is checked before anything is read.
		junk := make([]byte, wire.DefaultMaxBytes+1)
		err = wire.Unmarshal(junk, &got, f, wire.Limits{})
		checkError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "max_bytes")
	}
}

// nestedValue returns a Value of n arrays around a string.
func nestedValue(n int) *altarv1.Value {
	v := schema.String("leaf")
	for range n {
		v = schema.Array(v)
	}
	return v
}

func TestUnmarshalDepthLimit(t *testing.T) {
	const deep = 1000
	msg := &altarv1.HostMessage{Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
		Parameters: map[string]*altarv1.Value{"deep": nestedValue(deep)},
	}}}
	for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
		// Encoders are not bounded: build the input with them.
		b, err := wire.Marshal(msg, f)
		if err != nil {
			t.Fatal(err)
		}
		var got altarv1.HostMessage
		err = wire.Unmarshal(b, &got, f, wire.Limits{})
		ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "max_depth")
		if !strings.Contains(ae.Message, "altar.v1.HostMessage") || !strings.Contains(ae.Message, "deeper than") {
			t.Errorf("%v: error %v is not clear", f, err)
		}
		if _, err := wire.UnmarshalDetect(b, &got, wire.Limits{}); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE {
			t.Errorf("%v: UnmarshalDetect = %v", f, err)
		}
		// A higher limit lets it through.
		if err := wire.Unmarshal(b, &got, f, wire.Limits{MaxDepth: 2*deep + 10}); err != nil || !proto.Equal(&got, msg) {
			t.Errorf("%v with a high limit: %v", f, err)
		}
	}
}

// TestUnmarshalBeyondDecoderDepth feeds messages deeper than the protobuf
// decoders' own recursion limit: refused with an error, never a crash.
func TestUnmarshalBeyondDecoderDepth(t *testing.T) {
	msg := &altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
		Payload: nestedValue(6000), // 12000 message levels
	}}}
	for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
		b, err := wire.Marshal(msg, f)
		if err != nil {
			t.Fatal(err)
		}
		var got altarv1.RuntimeMessage
		err = wire.Unmarshal(b, &got, f, wire.Limits{})
		if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_MALFORMED_MESSAGE {
			t.Errorf("%v: Unmarshal = %v, want MALFORMED_MESSAGE", f, err)
		}
		if err != nil && !strings.Contains(err.Error(), "recursion depth") {
			t.Errorf("%v: error %v does not say why", f, err)
		}
	}
}

// TestDefaultDepthFitsSchemaDepth checks that the wire accepts a Value as
// deep as the schema's default limit inside the deepest envelope, and that
// the default limit is not much more than that.
func TestDefaultDepthFitsSchemaDepth(t *testing.T) {
	wrap := func(v *altarv1.Value) *altarv1.HostMessage {
		return &altarv1.HostMessage{Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
			Parameters: map[string]*altarv1.Value{"v": v},
		}}}
	}
	for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
		b, err := wire.Marshal(wrap(nestedValue(schema.DefaultMaxDepth)), f)
		if err != nil {
			t.Fatal(err)
		}
		var got altarv1.HostMessage
		if err := wire.Unmarshal(b, &got, f, wire.Limits{}); err != nil {
			t.Errorf("%v: a Value %d arrays deep in a ToolCall is refused: %v", f, schema.DefaultMaxDepth, err)
		}
		b, err = wire.Marshal(wrap(nestedValue(wire.DefaultMaxDepth/2)), f)
		if err != nil {
			t.Fatal(err)
		}
		err = wire.Unmarshal(b, &got, f, wire.Limits{})
		checkError(t, err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE, "max_depth")
	}
}

func TestUnknownFormat(t *testing.T) {
	msg := &altarv1.HostMessage{CorrelationId: "c"}
	_, err := wire.Marshal(msg, wire.Format(9))
	checkError(t, err, altarv1.ErrorCode_ERROR_CODE_INTERNAL, "")
	err = wire.Unmarshal([]byte{}, msg, wire.Format(9), wire.Limits{})
	checkError(t, err, altarv1.ErrorCode_ERROR_CODE_INTERNAL, "")
	err = wire.Unmarshal([]byte{}, nil, wire.FormatBinary, wire.Limits{})
	checkError(t, err, altarv1.ErrorCode_ERROR_CODE_INTERNAL, "")
}

func TestMarshalErrors(t *testing.T) {
	// A string that is not UTF-8 cannot be encoded in either format.
	bad := &altarv1.HostMessage{CorrelationId: "\xff"}
	for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
		_, err := wire.Marshal(bad, f)
		ae := checkError(t, err, altarv1.ErrorCode_ERROR_CODE_INTERNAL, "")
		if !strings.Contains(ae.Message, "altar.v1.HostMessage") {
			t.Errorf("%v: error %v does not name the type", f, err)
		}
	}
}
