package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// DefaultContractVersion is the version of a contract derived from Go types
// when WithContractVersion does not give one. It only matters for contracts
// a runtime registers itself (DEVELOPMENT mode).
const DefaultContractVersion = "0.1.0"

// Tool is one tool a runtime can execute: its name, the contract derived
// from its Go types, and the function that runs it. Build one with Func or
// StreamFunc. The zero Tool is not valid. Tools are immutable values, safe to
// share between runtimes and goroutines.
type Tool struct {
	t *tool
}

type tool struct {
	name       string
	contract   *altarv1.ToolContract
	constraint string
	declare    bool
	streaming  bool
	// run executes the tool. For a unary tool emit is nil and the result is
	// returned; a streaming tool sends every piece through emit and returns
	// a nil Value.
	run func(ctx context.Context, args map[string]*altarv1.Value, emit func(*altarv1.Value) error) (*altarv1.Value, error)
	// err is a construction error, reported by New and NewHandler.
	err error
}

// Name is the tool's name: the contract name it fulfils.
func (t Tool) Name() string {
	if t.t == nil {
		return ""
	}
	return t.t.name
}

// Streaming reports whether the tool was built with StreamFunc.
func (t Tool) Streaming() bool { return t.t != nil && t.t.streaming }

// Contract returns the contract derived from the tool's Go types (or the one
// given with WithContract). The runtime registers it in DEVELOPMENT mode and
// declares it in FulfillTools when DeclareContract is set. The result is a
// copy the caller may change.
func (t Tool) Contract() *altarv1.ToolContract {
	if t.t == nil || t.t.contract == nil {
		return nil
	}
	return proto.CloneOf(t.t.contract)
}

// Err reports why the tool could not be built (an In type without a schema,
// a bad altar tag, an invalid name), or nil. New and NewHandler refuse tools
// with an error, so checking it is optional.
func (t Tool) Err() error {
	if t.t == nil {
		return errors.New("sdk: zero Tool; build tools with Func or StreamFunc")
	}
	return t.t.err
}

// ToolOption configures one tool.
type ToolOption interface {
	applyTool(*toolConfig)
}

type toolConfig struct {
	version    string
	constraint string
	declare    bool
	contract   *altarv1.ToolContract
	flags      *altarv1.ToolFlags
	returnType *altarv1.ParameterSchema
}

type toolOptionFunc func(*toolConfig)

func (f toolOptionFunc) applyTool(c *toolConfig) { f(c) }

// WithVersionConstraint sets the contract versions the runtime accepts for
// this tool when it fulfils it ("1.2.0", "^1.2", ">=1.0.0 <2.0.0"). The Host
// checks it; empty (the default) accepts any version.
func WithVersionConstraint(constraint string) ToolOption {
	return toolOptionFunc(func(c *toolConfig) { c.constraint = constraint })
}

// WithContractVersion sets the version of the derived contract (default
// DefaultContractVersion), which matters when the runtime registers the tool
// itself in DEVELOPMENT mode.
func WithContractVersion(version string) ToolOption {
	return toolOptionFunc(func(c *toolConfig) { c.version = version })
}

// WithFlags sets the behavioural promises of the derived contract
// (read_only, idempotent, ...). The Host only honours them for contracts the
// runtime registers; trusted contracts carry their own.
func WithFlags(flags *altarv1.ToolFlags) ToolOption {
	return toolOptionFunc(func(c *toolConfig) { c.flags = proto.CloneOf(flags) })
}

// WithReturnType replaces the result schema derived from Out, for a result
// whose Go type says less than its contract (an any that holds an int64 or a
// float64 is a number).
func WithReturnType(ps *altarv1.ParameterSchema) ToolOption {
	return toolOptionFunc(func(c *toolConfig) { c.returnType = proto.CloneOf(ps) })
}

// WithContract replaces the contract derived from the Go types with c, whose
// name must be the tool's. The Go types still decide how arguments decode.
func WithContract(c *altarv1.ToolContract) ToolOption {
	return toolOptionFunc(func(cfg *toolConfig) { cfg.contract = proto.CloneOf(c) })
}

// DeclareContract makes the runtime send the tool's contract as the
// declared_contract of its FulfillTools offer. In STRICT mode the Host then
// refuses the tool (ERROR_CODE_CONTRACT_MISMATCH) when its trusted contract
// differs, which catches a runtime built against another version of the
// contract. Off by default: a derived contract rarely matches a manifest's
// descriptions word for word.
func DeclareContract() ToolOption {
	return toolOptionFunc(func(c *toolConfig) { c.declare = true })
}

// Func makes a unary tool from a typed Go function.
//
// In is a struct (or a map with string keys) whose fields are the tool's
// parameters, named by their json tags; its schema is derived from the Go
// types and the fields' altar tags (see the package documentation). Each
// call's arguments are decoded into a fresh In: integers stay exact int64s,
// null and absent are told apart, and an argument that does not fit its
// field answers ERROR_CODE_INVALID_ARGUMENTS naming the field. The result is
// converted with schema.FromGo.
//
// fn runs in its own goroutine per call. ctx carries the call's deadline
// and is cancelled when the Host cancels the invocation or the connection
// ends; the ToolCall itself is available with CallFromContext. An error
// fn returns becomes a TOOL_FAILED result (an *altarerr.Error keeps its
// code); a panic is recovered into a TOOL_FAILED result as well.
func Func[In, Out any](name, description string, fn func(ctx context.Context, in In) (Out, error), opts ...ToolOption) Tool {
	t, in, err := newTool[In, Out](name, description, false, opts)
	if err != nil {
		return Tool{t: t}
	}
	t.run = func(ctx context.Context, args map[string]*altarv1.Value, _ func(*altarv1.Value) error) (*altarv1.Value, error) {
		var arg In
		d := decoder{info: in}
		if err := d.decodeArgs(name, reflect.ValueOf(&arg).Elem(), args); err != nil {
			return nil, err
		}
		out, err := fn(ctx, arg)
		if err != nil {
			return nil, err
		}
		return resultValue(name, out)
	}
	return Tool{t: t}
}

// StreamFunc makes a streaming tool from a typed Go function: fn sends the
// result in pieces by calling emit, one StreamChunk per call, in order.
//
// emit blocks while the Host's buffers are full (backpressure: a slow reader
// slows the tool, memory stays bounded), and returns an error once the call
// is cancelled, its deadline passes or the connection ends; fn should then
// return. emit is safe for concurrent use but must not be called after fn
// returns. When fn returns nil the stream ends with a final chunk; when it
// returns an error the stream ends with an error chunk (TOOL_FAILED, or the
// code of an *altarerr.Error, or CANCELLED/DEADLINE_EXCEEDED when the call
// was stopped).
//
// In and Out follow the rules of Func. Called without streaming (a plain
// invoke), the tool's result is the array of every emitted value.
func StreamFunc[In, Out any](name, description string, fn func(ctx context.Context, in In, emit func(Out) error) error, opts ...ToolOption) Tool {
	t, in, err := newTool[In, Out](name, description, true, opts)
	if err != nil {
		return Tool{t: t}
	}
	t.run = func(ctx context.Context, args map[string]*altarv1.Value, emit func(*altarv1.Value) error) (*altarv1.Value, error) {
		var arg In
		d := decoder{info: in}
		if err := d.decodeArgs(name, reflect.ValueOf(&arg).Elem(), args); err != nil {
			return nil, err
		}
		return nil, fn(ctx, arg, func(out Out) error {
			v, err := resultValue(name, out)
			if err != nil {
				return err
			}
			return emit(v)
		})
	}
	return Tool{t: t}
}

// newTool derives the contract and the decoding tables of a tool.
func newTool[In, Out any](name, description string, streaming bool, opts []ToolOption) (*tool, *typeInfo, error) {
	cfg := toolConfig{version: DefaultContractVersion}
	for _, o := range opts {
		o.applyTool(&cfg)
	}
	t := &tool{name: name, constraint: cfg.constraint, declare: cfg.declare, streaming: streaming}
	in, c, err := deriveContract[In, Out](name, description, streaming, cfg)
	if err != nil {
		t.err = fmt.Errorf("sdk: tool %q: %w", name, err)
		return t, nil, t.err
	}
	t.contract = c
	return t, in, nil
}

func deriveContract[In, Out any](name, description string, streaming bool, cfg toolConfig) (*typeInfo, *altarv1.ToolContract, error) {
	if err := contract.ValidateName(name); err != nil {
		return nil, nil, err
	}
	inType := reflect.TypeFor[In]()
	if k := inType.Kind(); k != reflect.Struct && k != reflect.Map {
		return nil, nil, fmt.Errorf("parameters type %s must be a struct or a map with string keys", inType)
	}
	in, err := derive(inType, dirIn)
	if err != nil {
		return nil, nil, fmt.Errorf("parameters: %w", err)
	}
	if _, err := schema.Compile(in.schema); err != nil {
		return nil, nil, fmt.Errorf("parameters: %w", err)
	}
	if cfg.contract != nil {
		if cfg.contract.GetName() != name {
			return nil, nil, fmt.Errorf("WithContract: the contract is named %q, not %q", cfg.contract.GetName(), name)
		}
		return in, cfg.contract, nil
	}
	out, err := derive(reflect.TypeFor[Out](), dirOut)
	if err != nil {
		return nil, nil, fmt.Errorf("result: %w", err)
	}
	if err := contract.ValidateVersion(cfg.version); err != nil {
		return nil, nil, err
	}
	c := &altarv1.ToolContract{
		Name:              name,
		Version:           cfg.version,
		Description:       description,
		Parameters:        in.schema,
		SupportsStreaming: streaming,
		Flags:             cfg.flags,
		ComplianceLevel:   altarv1.ComplianceLevel_COMPLIANCE_LEVEL_1,
	}
	ret := out.schema
	if cfg.returnType != nil {
		ret = cfg.returnType
	}
	if ret.GetType() != altarv1.AltarType_ALTAR_TYPE_ANY {
		if _, err := schema.Compile(ret); err != nil {
			return nil, nil, fmt.Errorf("result: %w", err)
		}
		c.ReturnType = ret
	}
	if streaming {
		c.ComplianceLevel = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2
		c.RequiredCapabilities = []string{altarv1.CapabilityStreaming, altarv1.CapabilityCancellation}
	}
	return in, c, nil
}

// resultValue converts a tool's Go result to a Value; a result with no
// Value form (NaN, a channel) is the tool's fault: ERROR_CODE_INVALID_RESULT.
func resultValue(name string, out any) (*altarv1.Value, error) {
	v, err := schema.FromGo(out)
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "tool %q returned a result with no ALTAR value", name)
	}
	return v, nil
}

type callKey struct{}

// CallFromContext returns the ToolCall a tool is executing: its invocation
// and correlation ids, session id, security context, metadata and deadline.
// It returns nil outside a call. The message must not be modified.
func CallFromContext(ctx context.Context) *altarv1.ToolCall {
	c, _ := ctx.Value(callKey{}).(*altarv1.ToolCall)
	return c
}
