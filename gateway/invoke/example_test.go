package invoke_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/invoke"
	"github.com/altar-gateway/altar/gateway/invoke/invoketest"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The Host wires the engine to its contract registry (the Resolver) and
// its runtime registry (Runtimes); here fakes stand in for both.
func ExampleEngine_Invoke() {
	contract := &altarv1.ToolContract{
		Name:    "add",
		Version: "1.0.0",
		Parameters: &altarv1.ParameterSchema{
			Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
			Properties: map[string]*altarv1.ParameterSchema{
				"a": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER},
				"b": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER},
			},
			Required: []string{"a", "b"},
		},
		ReturnType: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_INTEGER},
		Flags:      &altarv1.ToolFlags{Idempotent: true},
	}
	conn := invoketest.NewConn("math-runtime")
	conn.InvokeFunc = func(_ context.Context, call *altarv1.ToolCall) (*altarv1.ToolResult, error) {
		p := call.GetParameters()
		return invoketest.Success(schema.Int(p["a"].GetIntValue() + p["b"].GetIntValue())), nil
	}

	engine := invoke.New(
		invoketest.NewResolver(invoketest.Target(contract, "math-runtime")),
		invoketest.NewRuntimes(conn),
		invoke.WithLogger(slog.New(slog.DiscardHandler)),
		invoke.WithDefaultTimeout(5*time.Second),
		invoke.WithRetry(invoke.RetryPolicy{MaxAttempts: 2}),
	)
	defer engine.Close()

	res, err := engine.Invoke(context.Background(), &altarv1.InvokeRequest{
		ToolName:     "add",
		InvocationId: "inv-1",
		// "2" becomes 2 because the request asks for lenient coercion.
		Parameters: map[string]*altarv1.Value{"a": schema.String("2"), "b": schema.Int(40)},
		Coerce:     true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.GetPayload().GetIntValue(), res.GetRuntimeId())

	_, err = engine.Invoke(context.Background(), &altarv1.InvokeRequest{ToolName: "add", Parameters: map[string]*altarv1.Value{"a": schema.Int(1)}})
	var ae *altarerr.Error
	if errors.As(err, &ae) {
		for _, f := range ae.Fields {
			fmt.Println(altarerr.CodeName(ae.Code), f.GetPath(), f.GetRule())
		}
	}
	// Output:
	// 42 math-runtime
	// INVALID_ARGUMENTS /b required
}
