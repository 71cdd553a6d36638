package calc_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

const manifestPath = "../../../../manifests/calculator.yaml"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		x      float64
		places int
		mode   string
		want   float64
	}{
		// Ties.
		{2.5, 0, calc.HalfEven, 2},
		{3.5, 0, calc.HalfEven, 4},
		{-2.5, 0, calc.HalfEven, -2},
		{2.5, 0, calc.HalfUp, 3},
		{-2.5, 0, calc.HalfUp, -3},
		{2.5, 0, calc.Down, 2},
		{-2.5, 0, calc.Down, -2},
		{2.5, 0, calc.Up, 3},
		{-2.5, 0, calc.Up, -3},
		// The decimal as written, not the double below it.
		{2.675, 2, calc.HalfUp, 2.68},
		{2.675, 2, calc.HalfEven, 2.68},
		{2.665, 2, calc.HalfEven, 2.66},
		{1.005, 2, calc.HalfUp, 1.01},
		// Beyond half, below half.
		{2.6751, 2, calc.HalfEven, 2.68},
		{2.6749, 2, calc.HalfUp, 2.67},
		{2.6701, 2, calc.Up, 2.68},
		{2.6799, 2, calc.Down, 2.67},
		// Carries.
		{9.995, 2, calc.HalfUp, 10},
		{-9.999, 2, calc.Up, -10},
		{0.5, 0, calc.HalfUp, 1},
		// Everything below the kept place.
		{0.004, 2, calc.HalfUp, 0},
		{0.005, 2, calc.HalfUp, 0.01},
		{0.005, 2, calc.HalfEven, 0},
		{0.0004, 2, calc.Up, 0.01},
		{1e-20, 15, calc.Up, 1e-15},
		{1e-20, 15, calc.HalfEven, 0},
		// Nothing to round.
		{2.5, 1, calc.Down, 2.5},
		{123456789012345678, 2, calc.HalfEven, 123456789012345678},
		{0.1 + 0.2, 15, calc.HalfEven, 0.3},
		{0.1 + 0.2, 16, calc.HalfEven, 0.3000000000000000},
		{0, 3, calc.Up, 0},
		{12345.678, 0, calc.HalfEven, 12346},
	} {
		got, ok := calc.Round(tc.x, tc.places, tc.mode)
		if !ok || got != tc.want {
			t.Errorf("Round(%v, %d, %s) = %v, %v; want %v", tc.x, tc.places, tc.mode, got, ok, tc.want)
		}
	}
	if _, ok := calc.Round(1, 1, "sideways"); ok {
		t.Error("Round accepted an unknown mode")
	}
}

func TestIntegerQuotient(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want any
	}{
		{7, 2, int64(3)},
		{-7, 2, int64(-3)},
		{7, -2, int64(-3)},
		{-7, -2, int64(3)},
		{7.5, 2, int64(3)},
		{1, 3, int64(0)},
		{-0.5, 1, int64(0)},
		// a/b rounds to 1.0; the true quotient is just below 1.
		{9007199254740989, 9007199254740990, int64(0)},
		{9.2e18, 1, int64(9200000000000000000)},
		// Too big for an int64: stays a float64.
		{1e300, 3, math.Trunc(1e300 / 3)},
		{-1e19, 1, -1e19},
	} {
		if got := calc.IntegerQuotient(tc.a, tc.b); got != tc.want {
			t.Errorf("IntegerQuotient(%v, %v) = %v (%T), want %v", tc.a, tc.b, got, got, tc.want)
		}
	}
}

// host is the Host's view of the calculator: the manifest's compiled
// contracts and the tools behind a Handler. Its call validates arguments and
// results against the manifest, as the Host does around every call.
type host struct {
	t         *testing.T
	contracts map[string]*contract.Contract
	handler   *sdk.Handler
}

func newHost(t *testing.T) *host {
	t.Helper()
	m, err := contract.LoadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	h, err := sdk.NewHandler(calc.Tools())
	if err != nil {
		t.Fatal(err)
	}
	cs := map[string]*contract.Contract{}
	for _, c := range m.Contracts {
		cs[c.Name()] = c
	}
	return &host{t: t, contracts: cs, handler: h}
}

// validArgs validates natural-JSON arguments against the manifest.
func (h *host) validArgs(tool, args string) (map[string]*altarv1.Value, error) {
	h.t.Helper()
	params, err := schema.ParseJSONObject([]byte(args), schema.DefaultLimits())
	if err != nil {
		h.t.Fatalf("%s: %v", args, err)
	}
	return params, h.contracts[tool].Params.ValidateFields(params)
}

func (h *host) invoke(tool, args string) *altarv1.ToolResult {
	h.t.Helper()
	params, err := h.validArgs(tool, args)
	if err != nil {
		h.t.Fatalf("the manifest refuses %s(%s): %v", tool, args, err)
	}
	res := h.handler.Invoke(context.Background(), &altarv1.ToolCall{InvocationId: "inv", ToolName: tool, Parameters: params})
	if res.GetStatus() == altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
		if err := h.contracts[tool].Result.Validate(res.GetPayload()); err != nil {
			h.t.Errorf("%s(%s) = %v does not match the manifest's return type: %v", tool, args, res.GetPayload(), err)
		}
	}
	return res
}

func TestToolsAgainstTheManifest(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		tool, args string
		want       *altarv1.Value // nil: want an error
		code       altarv1.ErrorCode
	}{
		{tool: "add", args: `{"a": 2, "b": 3}`, want: schema.Double(5)},
		{tool: "add", args: `{"a": 0.1, "b": 0.2}`, want: schema.Double(0.30000000000000004)}, // IEEE 754, as the contract says.
		{tool: "subtract", args: `{"a": 2, "b": 3.5}`, want: schema.Double(-1.5)},
		{tool: "multiply", args: `{"factors": [2, 3, 4]}`, want: schema.Double(24)},
		{tool: "multiply", args: `{"factors": [1.005, 1], "rounding": {"places": 2, "mode": "half_up"}}`, want: schema.Double(1.01)},
		{tool: "multiply", args: `{"factors": [0.5, 5], "rounding": {"places": 0}}`, want: schema.Double(2)},
		{tool: "multiply", args: `{"factors": [0.5, 5], "rounding": {"places": 0, "mode": "half_up"}}`, want: schema.Double(3)},
		{tool: "multiply", args: `{"factors": [1.239, 1], "rounding": {"places": 2, "mode": "down"}}`, want: schema.Double(1.23)},
		{tool: "multiply", args: `{"factors": [-1.231, 1], "rounding": {"places": 2, "mode": "up"}}`, want: schema.Double(-1.24)},
		{tool: "multiply", args: `{"factors": [1e200, 1e200]}`, code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED},
		{tool: "divide", args: `{"a": 1, "b": 4}`, want: schema.Double(0.25)},
		{tool: "divide", args: `{"a": 1, "b": 4, "mode": "exact"}`, want: schema.Double(0.25)},
		{tool: "divide", args: `{"a": 7, "b": 2, "mode": "integer"}`, want: schema.Int(3)},
		{tool: "divide", args: `{"a": -7, "b": 2, "mode": "integer"}`, want: schema.Int(-3)},
		{tool: "divide", args: `{"a": 7.5, "b": -0.5, "mode": "integer"}`, want: schema.Int(-15)},
	} {
		t.Run(tc.tool+tc.args, func(t *testing.T) {
			res := h.invoke(tc.tool, tc.args)
			if tc.want == nil {
				if res.GetError().GetCode() != tc.code {
					t.Fatalf("result %v, want %v", res, tc.code)
				}
				return
			}
			if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS {
				t.Fatalf("result %v", res)
			}
			if diff := cmp.Diff(tc.want, res.GetPayload(), protocmp.Transform()); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}

	// What the manifest refuses never reaches the tools; the tools refuse it too.
	for _, tc := range []struct{ tool, args string }{
		{"divide", `{"a": 1, "b": 0}`},
		{"multiply", `{"factors": [1]}`},
		{"multiply", `{"factors": [1, 2], "rounding": {"places": 16}}`},
		{"multiply", `{"factors": [1, 2], "rounding": {"places": 2, "mode": "sideways"}}`},
		{"count", `{"stop": 3, "step": 0}`},
	} {
		params, err := h.validArgs(tc.tool, tc.args)
		if err == nil {
			t.Errorf("the manifest accepts %s(%s)", tc.tool, tc.args)
		}
		res := h.handler.Invoke(context.Background(), &altarv1.ToolCall{ToolName: tc.tool, Parameters: params})
		if res.GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
			t.Errorf("%s(%s) = %v, want INVALID_ARGUMENTS", tc.tool, tc.args, res)
		}
	}
}

// stream runs count through the Handler and returns its chunks.
func stream(t *testing.T, h *host, args string) []*altarv1.StreamChunk {
	t.Helper()
	params, err := h.validArgs("count", args)
	if err != nil {
		t.Fatalf("the manifest refuses count(%s): %v", args, err)
	}
	var chunks []*altarv1.StreamChunk
	err = h.handler.Stream(context.Background(), &altarv1.ToolCall{ToolName: "count", Parameters: params, Stream: true}, func(_ context.Context, c *altarv1.StreamChunk) error {
		chunks = append(chunks, c)
		if p := c.GetPayload(); p != nil {
			if err := h.contracts["count"].Result.Validate(p); err != nil {
				t.Errorf("chunk %v does not match the manifest's return type: %v", c, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return chunks
}

func TestCount(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		args string
		want []int64
	}{
		{`{"stop": 5, "delay_ms": 0}`, []int64{1, 2, 3, 4, 5}},
		{`{"stop": 1}`, []int64{1}}, // Defaults; no wait after the last number.
		{`{"start": 5, "stop": -1, "step": -2, "delay_ms": 0}`, []int64{5, 3, 1, -1}},
		{`{"start": 0, "stop": 10, "step": 4, "delay_ms": 1}`, []int64{0, 4, 8}},
		{`{"start": 3, "stop": 1, "delay_ms": 0}`, nil}, // A step away from stop.
		{`{"start": 9223372036854775806, "stop": 1000000, "step": -4611686018427387904, "delay_ms": 0}`,
			[]int64{9223372036854775806, 4611686018427387902}},
		{`{"start": 999999, "stop": 1000000, "step": 9223372036854775807, "delay_ms": 0}`, []int64{999999}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			chunks := stream(t, h, tc.args)
			var got []int64
			for i, c := range chunks {
				if c.GetChunkId() != uint64(i+1) {
					t.Fatalf("chunk %d has id %d", i, c.GetChunkId())
				}
				if c.GetPayload() != nil {
					got = append(got, c.GetPayload().GetIntValue())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("numbers %v, want %v", got, tc.want)
			}
			if last := chunks[len(chunks)-1]; !last.GetIsFinal() || last.GetError() != nil {
				t.Errorf("last chunk %v", last)
			}
		})
	}
}

func TestCountHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var got []int64
	// A ten-second wait between numbers, cut short by the cancel.
	err := calc.Count(ctx, calc.CountArgs{Start: 1, Stop: 3, Step: 1, DelayMS: 10_000}, func(n int64) error {
		got = append(got, n)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || !slices.Equal(got, []int64{1}) {
		t.Fatalf("Count = %v after %v, want context.Canceled after [1]", err, got)
	}

	// Through the Handler the cancel is a final CANCELLED chunk.
	h := newHost(t)
	ctx, cancel = context.WithCancel(context.Background())
	params, _ := h.validArgs("count", `{"stop": 3, "delay_ms": 10000}`)
	var chunks []*altarv1.StreamChunk
	err = h.handler.Stream(ctx, &altarv1.ToolCall{ToolName: "count", Parameters: params, Stream: true}, func(_ context.Context, c *altarv1.StreamChunk) error {
		chunks = append(chunks, c)
		cancel()
		return nil
	})
	if err != nil || len(chunks) != 2 || chunks[1].GetError().GetCode() != altarv1.ErrorCode_ERROR_CODE_CANCELLED {
		t.Fatalf("Stream = %v, chunks %v", err, chunks)
	}
}

// TestContractsMatchTheManifest checks that what the calculator would
// register in DEVELOPMENT mode is the manifest's contract in every respect
// the Go types can say: names, types, required, enums, defaults, bounds.
func TestContractsMatchTheManifest(t *testing.T) {
	m, err := contract.LoadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	tools := calc.Tools()
	var names []string
	for _, tool := range tools {
		if err := tool.Err(); err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name())
	}
	var want []string
	for _, c := range m.Contracts {
		want = append(want, c.Name())
	}
	sort.Strings(names)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Fatalf("tools %v, manifest %v", names, want)
	}
	var derived []*altarv1.ToolContract
	for _, tool := range tools {
		got := tool.Contract()
		derived = append(derived, got)
		for _, c := range m.Contracts {
			if c.Name() != tool.Name() {
				continue
			}
			if got.GetVersion() != c.Version() || got.GetSupportsStreaming() != c.Proto.GetSupportsStreaming() {
				t.Errorf("%s: version %s streaming %v, manifest %s %v", tool.Name(), got.GetVersion(),
					got.GetSupportsStreaming(), c.Version(), c.Proto.GetSupportsStreaming())
			}
			sameShape(t, tool.Name(), c.Proto.GetParameters(), got.GetParameters())
			if rt := c.Proto.GetReturnType(); rt.GetType() != got.GetReturnType().GetType() {
				t.Errorf("%s: return type %v, manifest %v", tool.Name(), got.GetReturnType().GetType(), rt.GetType())
			}
		}
	}
	// The Host's own rules accept the derived contracts.
	if _, err := contract.FromProto(&altarv1.ToolManifest{ManifestVersion: "1.0", Contracts: derived}); err != nil {
		t.Errorf("the Host refuses the derived contracts: %v", err)
	}
}

// sameShape compares two schemas in what a Go type and its tags can say.
func sameShape(t *testing.T, path string, want, got *altarv1.ParameterSchema) {
	t.Helper()
	if want.GetType() != got.GetType() {
		t.Errorf("%s: type %v, manifest %v", path, got.GetType(), want.GetType())
		return
	}
	if !sameSet(want.GetRequired(), got.GetRequired()) {
		t.Errorf("%s: required %v, manifest %v", path, got.GetRequired(), want.GetRequired())
	}
	if !proto.Equal(want.GetDefault(), got.GetDefault()) {
		t.Errorf("%s: default %v, manifest %v", path, got.GetDefault(), want.GetDefault())
	}
	if diff := cmp.Diff(want.GetEnum(), got.GetEnum(), protocmp.Transform()); diff != "" {
		t.Errorf("%s: enum (-manifest +derived):\n%s", path, diff)
	}
	for _, b := range []struct {
		name      string
		want, got any
	}{
		{"minimum", want.Minimum, got.Minimum},
		{"maximum", want.Maximum, got.Maximum},
		{"min_items", want.MinItems, got.MinItems},
		{"max_items", want.MaxItems, got.MaxItems},
	} {
		if diff := cmp.Diff(b.want, b.got); diff != "" {
			t.Errorf("%s: %s (-manifest +derived):\n%s", path, b.name, diff)
		}
	}
	var wantProps, gotProps []string
	for k := range want.GetProperties() {
		wantProps = append(wantProps, k)
	}
	for k := range got.GetProperties() {
		gotProps = append(gotProps, k)
	}
	if !sameSet(wantProps, gotProps) {
		t.Errorf("%s: properties %v, manifest %v", path, gotProps, wantProps)
	}
	for k, w := range want.GetProperties() {
		if g, ok := got.GetProperties()[k]; ok {
			sameShape(t, path+"/"+k, w, g)
		}
	}
	if want.GetItems() != nil {
		sameShape(t, path+"/items", want.GetItems(), got.GetItems())
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func TestNaNIsNotARoundingInput(t *testing.T) {
	if got, ok := calc.Round(math.Inf(1), 2, calc.HalfEven); !ok || !math.IsInf(got, 1) {
		t.Errorf("Round(+Inf) = %v, %v", got, ok)
	}
}
