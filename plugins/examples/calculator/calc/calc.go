// Package calc is the example calculator's tools: add, subtract, multiply,
// divide and count, fulfilling the contracts of manifests/calculator.yaml
// with the same parameter names and semantics. It is a package of its own so
// that the Host can run the tools in-process (through sdk.Handler) as well
// as in the calculator runtime binary.
//
// Numbers are IEEE 754 doubles, as ALTAR's number type is. Rounding to
// decimal places (multiply) works on the shortest decimal form of the
// product, the digits a person sees: 2.675 rounds half_up to 2.68, although
// the double nearest 2.675 is slightly below it.
package calc

import (
	"context"
	"math"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Tools returns the calculator's tools.
func Tools() []sdk.Tool {
	return []sdk.Tool{
		sdk.Func("add", "Add two numbers and return their sum.", Add,
			sdk.WithContractVersion("1.0.0"), sdk.WithFlags(readOnly)),
		sdk.Func("subtract", "Subtract b from a.", Subtract,
			sdk.WithContractVersion("1.0.0"), sdk.WithFlags(readOnly)),
		sdk.Func("multiply", "Multiply a list of factors, optionally rounding the product to a number of decimal places.", Multiply,
			sdk.WithContractVersion("1.0.0"), sdk.WithFlags(readOnly)),
		sdk.Func("divide", "Divide a by b. Dividing by zero is refused before the call reaches the runtime, because b excludes 0 by schema.", Divide,
			sdk.WithContractVersion("1.0.0"), sdk.WithFlags(readOnly),
			sdk.WithReturnType(&altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_NUMBER})),
		sdk.StreamFunc("count", "Stream the integers from start to stop (inclusive) by step, one chunk per number, waiting delay_ms between them. Shows streaming and cancellation.", Count,
			sdk.WithContractVersion("1.0.0"), sdk.WithFlags(readOnly)),
	}
}

var readOnly = &altarv1.ToolFlags{ReadOnly: true, Idempotent: true}

// Pair is the parameters of add and subtract.
type Pair struct {
	A float64 `json:"a" altar:"description=The first operand."`
	B float64 `json:"b" altar:"description=The second operand."`
}

// Add returns a + b.
func Add(_ context.Context, in Pair) (float64, error) { return in.A + in.B, nil }

// Subtract returns a - b.
func Subtract(_ context.Context, in Pair) (float64, error) { return in.A - in.B, nil }

// Rounding modes of multiply, named as Python's decimal module names them.
const (
	// HalfEven rounds to the nearest, ties to the even digit (banker's rounding).
	HalfEven = "half_even"
	// HalfUp rounds to the nearest, ties away from zero.
	HalfUp = "half_up"
	// Down rounds toward zero (truncates).
	Down = "down"
	// Up rounds away from zero.
	Up = "up"
)

// MultiplyArgs is the parameters of multiply.
type MultiplyArgs struct {
	Factors  []float64 `json:"factors" altar:"description='The numbers to multiply, at least two.',min_items=2,max_items=100,required"`
	Rounding *Rounding `json:"rounding,omitempty" altar:"description='How to round the product; leave it out for no rounding.'"`
}

// Rounding says how multiply rounds its product.
type Rounding struct {
	Places int64  `json:"places" altar:"description=Decimal places to keep.,min=0,max=15,default=2,required"`
	Mode   string `json:"mode,omitempty" altar:"description=The rounding rule.,enum=half_even|half_up|down|up,default=half_even"`
}

// Multiply returns the product of the factors, rounded when asked.
func Multiply(_ context.Context, in MultiplyArgs) (float64, error) {
	if len(in.Factors) < 2 {
		return 0, invalid("/factors", "min_items", "give at least two factors")
	}
	p := 1.0
	for _, f := range in.Factors {
		p *= f
	}
	if math.IsInf(p, 0) || math.IsNaN(p) {
		return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, "the product overflows a 64-bit number")
	}
	if in.Rounding == nil {
		return p, nil
	}
	if in.Rounding.Places < 0 || in.Rounding.Places > 15 {
		return 0, invalid("/rounding/places", "maximum", "places must be between 0 and 15")
	}
	mode := in.Rounding.Mode
	if mode == "" {
		mode = HalfEven
	}
	r, ok := Round(p, int(in.Rounding.Places), mode)
	if !ok {
		return 0, invalid("/rounding/mode", "enum", "mode must be one of half_even, half_up, down, up")
	}
	return r, nil
}

// Division modes of divide.
const (
	// Exact returns the quotient as a number.
	Exact = "exact"
	// Integer returns the integer quotient, truncated toward zero.
	Integer = "integer"
)

// DivideArgs is the parameters of divide.
type DivideArgs struct {
	A    float64 `json:"a" altar:"description=The dividend."`
	B    float64 `json:"b" altar:"description='The divisor; must not be zero.'"`
	Mode string  `json:"mode,omitempty" altar:"description='\"exact\" returns a number; \"integer\" returns the integer quotient (truncated toward zero).',enum=exact|integer,default=exact"`
}

// Divide returns a / b: a float64 in exact mode; in integer mode the
// quotient truncated toward zero, as an int64 when it fits one.
func Divide(_ context.Context, in DivideArgs) (any, error) {
	if in.B == 0 {
		return nil, invalid("/b", "any_of", "the divisor must not be zero")
	}
	switch in.Mode {
	case "", Exact:
		return in.A / in.B, nil
	case Integer:
		return IntegerQuotient(in.A, in.B), nil
	default:
		return nil, invalid("/mode", "enum", "mode must be exact or integer")
	}
}

// IntegerQuotient is a / b truncated toward zero (b must not be zero): an
// int64 when it fits one, else a float64. It is computed from the exact
// remainder (math.Mod), so that a rounded a/b never crosses an integer:
// 9007199254740989 / 9007199254740990 is 0, not 1.
func IntegerQuotient(a, b float64) any {
	r := math.Mod(a, b)
	q := math.Round((a - r) / b)
	if q >= -(1<<63) && q < 1<<63 {
		return int64(q)
	}
	return q
}

// CountArgs is the parameters of count.
type CountArgs struct {
	Start   int64 `json:"start,omitempty" altar:"description=The first number.,default=1"`
	Stop    int64 `json:"stop" altar:"description=The last number (inclusive).,min=-1000000,max=1000000"`
	Step    int64 `json:"step,omitempty" altar:"description=The difference between numbers; negative counts down.,default=1"`
	DelayMS int64 `json:"delay_ms,omitempty" altar:"description=Milliseconds to wait between numbers.,min=0,max=10000,default=100"`
}

// Count emits start, start+step, ... up to and including stop, waiting
// delay_ms between numbers; a step that leads away from stop emits nothing.
// It returns the context's error as soon as the call is cancelled.
func Count(ctx context.Context, in CountArgs, emit func(int64) error) error {
	if in.Step == 0 {
		return invalid("/step", "any_of", "step must not be zero")
	}
	if in.DelayMS < 0 {
		return invalid("/delay_ms", "minimum", "delay_ms must not be negative")
	}
	delay := time.Duration(in.DelayMS) * time.Millisecond
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for i := in.Start; ; {
		if (in.Step > 0 && i > in.Stop) || (in.Step < 0 && i < in.Stop) {
			return nil
		}
		if err := emit(i); err != nil {
			return err
		}
		if (in.Step > 0 && i > math.MaxInt64-in.Step) || (in.Step < 0 && i < math.MinInt64-in.Step) {
			return nil // The next number does not exist.
		}
		i += in.Step
		if (in.Step > 0 && i > in.Stop) || (in.Step < 0 && i < in.Stop) {
			return nil // No wait after the last number.
		}
		if delay > 0 {
			if timer == nil {
				timer = time.NewTimer(delay)
			} else {
				timer.Reset(delay)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func invalid(path, rule, msg string) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, "%s", msg).WithField(path, rule, msg)
}
