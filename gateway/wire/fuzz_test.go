package wire_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// FuzzUnmarshal decodes arbitrary bytes as a HostMessage, a RuntimeMessage
// and a ToolManifest in both formats. Decoding must never panic and must fail
// only with an *altarerr.Error; whatever decodes must re-encode in the same
// format and decode again to an equal message.
func FuzzUnmarshal(f *testing.F) {
	seeds := []proto.Message{
		&altarv1.HostMessage{CorrelationId: "c1", Message: &altarv1.HostMessage_ToolCall{ToolCall: &altarv1.ToolCall{
			InvocationId: "inv", ToolName: "t", Parameters: map[string]*altarv1.Value{
				"a": schema.Array(schema.Int(-1), schema.Double(0.5), schema.Null()),
				"b": schema.Object(map[string]*altarv1.Value{"x": schema.Bytes([]byte{1, 2})}),
			},
		}}},
		&altarv1.HostMessage{Message: &altarv1.HostMessage_Error{Error: &altarv1.Error{
			Code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, FieldErrors: []*altarv1.FieldError{{Path: "/a", Rule: "type"}},
		}}},
		&altarv1.RuntimeMessage{CorrelationId: "c2", Message: &altarv1.RuntimeMessage_ToolResult{ToolResult: &altarv1.ToolResult{
			InvocationId: "inv", Payload: schema.String("ok"),
		}}},
		&altarv1.RuntimeMessage{Message: &altarv1.RuntimeMessage_Announce{Announce: &altarv1.AnnounceRuntime{RuntimeId: "rt"}}},
		&altarv1.ToolManifest{ManifestVersion: "1", Contracts: []*altarv1.ToolContract{{
			Name: "t", Version: "1.0.0", Parameters: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT},
		}}},
	}
	for _, m := range seeds {
		for _, format := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
			b, err := wire.Marshal(m, format)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{"", "{}", "{", "\x7b", "\n{", `{"heartbeat":{"sentAt":"1970-01-01T00:00:00Z"}}`,
		`{"toolCall":{"deadline":"9999-12-31T23:59:59.999999999Z"}}`, `{"contracts":[{"name":"x","parameters":{"type":"ALTAR_TYPE_STRING"}}]}`,
		"\x0a\x80\x80\x80\x80\x10", "\xa2\x01\x00", `{"drain":{"gracePeriod":"-315576000000.999999999s"}}`} {
		f.Add([]byte(s))
	}
	lim := wire.Limits{MaxBytes: 1 << 16, MaxDepth: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		news := []func() proto.Message{
			func() proto.Message { return new(altarv1.HostMessage) },
			func() proto.Message { return new(altarv1.RuntimeMessage) },
			func() proto.Message { return new(altarv1.ToolManifest) },
		}
		for _, newMsg := range news {
			for _, format := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
				m := newMsg()
				if err := wire.Unmarshal(data, m, format, lim); err != nil {
					if _, ok := err.(*altarerr.Error); !ok {
						t.Fatalf("Unmarshal error %v is a %T", err, err)
					}
					continue
				}
				out, err := wire.Marshal(m, format)
				if err != nil {
					t.Fatalf("%v: re-encoding decoded %v: %v", format, m, err)
				}
				back := newMsg()
				// A re-encoding may be longer than its input (an int32
				// sent as a 5-byte varint comes back as 10 bytes).
				if err := wire.Unmarshal(out, back, format, wire.Limits{MaxDepth: lim.MaxDepth}); err != nil {
					t.Fatalf("%v: decoding the re-encoding %q of %v: %v", format, out, m, err)
				}
				if !proto.Equal(back, m) {
					t.Fatalf("%v: %v re-encoded as %q decodes to %v", format, m, out, back)
				}
			}
		}
	})
}
