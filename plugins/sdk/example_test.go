package sdk_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// AddArgs is the parameters of the example's add tool.
type AddArgs struct {
	A float64 `json:"a" altar:"description=The first addend."`
	B float64 `json:"b" altar:"description=The second addend."`
}

// TicksArgs is the parameters of the example's ticks tool.
type TicksArgs struct {
	N       int64 `json:"n" altar:"description=How many ticks.,min=1,max=1000"`
	DelayMS int64 `json:"delay_ms,omitempty" altar:"description='Milliseconds between ticks.',default=100"`
}

// A runtime with a unary and a streaming tool, connected to a Host on the
// default port until interrupted.
func Example() {
	add := sdk.Func("add", "Add two numbers.", func(_ context.Context, in AddArgs) (float64, error) {
		return in.A + in.B, nil
	})
	ticks := sdk.StreamFunc("ticks", "Count n ticks.", func(ctx context.Context, in TicksArgs, emit func(int64) error) error {
		for i := range in.N {
			if err := emit(i + 1); err != nil {
				return err // Cancelled, past the deadline, or disconnected.
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(in.DelayMS) * time.Millisecond):
			}
		}
		return nil
	})

	rt, err := sdk.New("example", []sdk.Tool{add, ticks},
		sdk.WithVersion("1.0.0"),
		sdk.WithMaxConcurrency(32),
		sdk.OnFulfilled(func(f sdk.Fulfilment) {
			if err := f.Err(); err != nil {
				log.Print(err) // Tools the Host does not trust.
			}
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := rt.Serve(ctx, "127.0.0.1:50051"); err != nil {
		log.Fatal(err) // The Host refused the runtime.
	}
}

// A Handler runs the same tools with no connection at all.
func ExampleHandler() {
	add := sdk.Func("add", "Add two numbers.", func(_ context.Context, in AddArgs) (float64, error) {
		return in.A + in.B, nil
	})
	h, err := sdk.NewHandler([]sdk.Tool{add})
	if err != nil {
		log.Fatal(err)
	}
	res := h.Invoke(context.Background(), &altarv1.ToolCall{
		InvocationId: "inv-1",
		ToolName:     "add",
		Parameters:   map[string]*altarv1.Value{"a": schema.Int(2), "b": schema.Double(0.5)},
	})
	fmt.Println(res.GetStatus(), res.GetPayload().GetDoubleValue())

	res = h.Invoke(context.Background(), &altarv1.ToolCall{
		InvocationId: "inv-2",
		ToolName:     "add",
		Parameters:   map[string]*altarv1.Value{"a": schema.String("two"), "b": schema.Int(1)},
	})
	fmt.Println(res.GetError().GetCode(), res.GetError().GetFieldErrors()[0].GetPath())
	// Output:
	// TOOL_RESULT_STATUS_SUCCESS 2.5
	// ERROR_CODE_INVALID_ARGUMENTS /a
}
