package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Language is what conformance.pid reports and the runtime announces.
const Language = "go"

// Set is the conformance tool set of one runtime process.
type Set struct {
	mu        sync.Mutex
	cancelled []string
}

// New returns a Set with no cancellations seen.
func New() *Set { return &Set{} }

// Cancelled returns the tags of the conformance.sleep calls seen cancelled,
// in the order seen.
func (s *Set) Cancelled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.cancelled...)
}

func (s *Set) sawCancelled(tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = append(s.cancelled, tag)
}

// The manifest's descriptions, mirrored.
const (
	echoDesc     = "Return the arguments object exactly as received (every key, null and missing kept apart, int64 exact, bytes as bytes)."
	describeDesc = "Report how the runtime saw each argument: for every key present in the arguments, an object whose " +
		"\"kind\" is the kind of its Value (null, string, int, double, bool, bytes, array, object); for bytes, also " +
		"\"length\" (an integer) and \"sha256\" (lower-case hex). Keys that were missing are absent from the result."
	sleepDesc = "Wait ms milliseconds, then return {\"slept_ms\": ms}. Returns early when the call is cancelled " +
		"(a CANCELLED tool error) or its deadline passes (a DEADLINE_EXCEEDED tool error); the runtime records each " +
		"cancellation it saw so conformance.cancelled can report it."
	cancelledDesc = "Return {\"tags\": [...]}: the tag of every conformance.sleep call that this runtime process saw cancelled " +
		"(by CancelInvocation or by its deadline), in the order seen."
	failDesc  = "Always fail with a tool error whose message is the given message."
	countDesc = "Stream n chunks; chunk i (from 0) carries the integer i. If fail_at is given, chunk fail_at is instead an " +
		"in-band error chunk (is_final) whose message is \"failed at <fail_at>\", and the stream ends there."
	pidDesc = "Return {\"pid\": the runtime process id, \"language\": \"go\", \"python\" or \"node\"}."
)

// Description is one argument as conformance.describe reports it.
type Description struct {
	Kind   string `json:"kind"`
	Length *int64 `json:"length,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

type sleepArgs struct {
	MS  int64  `json:"ms"`
	Tag string `json:"tag,omitempty"`
}

type countArgs struct {
	N       int64  `json:"n"`
	FailAt  *int64 `json:"fail_at"`
	DelayMS int64  `json:"delay_ms,omitempty"`
}

// List returns one tool per contract of the manifest.
func (s *Set) List() []sdk.Tool {
	return []sdk.Tool{
		sdk.Func("conformance.echo", echoDesc, func(_ context.Context, in map[string]*altarv1.Value) (map[string]*altarv1.Value, error) {
			return in, nil
		}),
		sdk.Func("conformance.describe", describeDesc, func(_ context.Context, in map[string]*altarv1.Value) (map[string]Description, error) {
			out := make(map[string]Description, len(in))
			for k, v := range in {
				out[k] = Describe(v)
			}
			return out, nil
		}),
		sdk.Func("conformance.sleep", sleepDesc, func(ctx context.Context, in sleepArgs) (map[string]int64, error) {
			t := time.NewTimer(time.Duration(in.MS) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				return map[string]int64{"slept_ms": in.MS}, nil
			case <-ctx.Done():
				s.sawCancelled(in.Tag)
				// The SDK answers CANCELLED (with the Host's reason) or
				// DEADLINE_EXCEEDED, from the context's cause.
				return nil, ctx.Err()
			}
		}),
		sdk.Func("conformance.cancelled", cancelledDesc, func(context.Context, struct{}) (map[string][]string, error) {
			return map[string][]string{"tags": s.Cancelled()}, nil
		}),
		sdk.Func("conformance.fail", failDesc, func(_ context.Context, in struct {
			Message string `json:"message"`
		}) (struct{}, error) {
			return struct{}{}, errors.New(in.Message)
		}),
		sdk.StreamFunc("conformance.count", countDesc, func(ctx context.Context, in countArgs, emit func(int64) error) error {
			for i := range in.N {
				if in.DelayMS > 0 {
					t := time.NewTimer(time.Duration(in.DelayMS) * time.Millisecond)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return ctx.Err()
					}
				}
				if in.FailAt != nil && i == *in.FailAt {
					return fmt.Errorf("failed at %d", i)
				}
				if err := emit(i); err != nil {
					return err
				}
			}
			return nil
		}),
		sdk.Func("conformance.pid", pidDesc, func(context.Context, struct{}) (map[string]any, error) {
			return map[string]any{"pid": int64(os.Getpid()), "language": Language}, nil
		}),
	}
}

// Describe reports how a Value was received.
func Describe(v *altarv1.Value) Description {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		return Description{Kind: "null"}
	case *altarv1.Value_StringValue:
		return Description{Kind: "string"}
	case *altarv1.Value_IntValue:
		return Description{Kind: "int"}
	case *altarv1.Value_DoubleValue:
		return Description{Kind: "double"}
	case *altarv1.Value_BoolValue:
		return Description{Kind: "bool"}
	case *altarv1.Value_BytesValue:
		n := int64(len(k.BytesValue))
		sum := sha256.Sum256(k.BytesValue)
		return Description{Kind: "bytes", Length: &n, SHA256: hex.EncodeToString(sum[:])}
	case *altarv1.Value_ArrayValue:
		return Description{Kind: "array"}
	case *altarv1.Value_ObjectValue:
		return Description{Kind: "object"}
	default:
		return Description{Kind: "unset"}
	}
}
