// Package sdk is the Go SDK for writing ALTAR runtimes: processes that
// execute tools whose contracts a Host owns.
//
// A tool is a typed Go function. Func makes a unary tool and StreamFunc a
// streaming one; New gathers tools into a Runtime, and Serve connects it to
// a Host:
//
//	add := sdk.Func("add", "Add two numbers.",
//		func(ctx context.Context, in struct {
//			A float64 `json:"a" altar:"description=The first addend."`
//			B float64 `json:"b" altar:"description=The second addend."`
//		}) (float64, error) {
//			return in.A + in.B, nil
//		})
//	rt, err := sdk.New("calculator", []sdk.Tool{add})
//	...
//	err = rt.Serve(ctx, "127.0.0.1:50051")
//
// # Parameters, results and schemas
//
// A tool's parameters are a struct (or a map with string keys) whose fields
// are named by their json tags, exactly as schema.FromGo names them. Each
// call's arguments are read straight from their Values into a fresh struct:
// an integer reaches an int64 exactly (never by way of a float64), bytes
// stay []byte, a sized integer type refuses what does not fit it, and every
// argument that does not fit its field is reported at once in an
// ERROR_CODE_INVALID_ARGUMENTS error whose field errors name it by JSON
// pointer ("/rounding/places"). Absent and null differ: an absent argument
// leaves its field at the zero value (or its tag default); null sets a
// pointer, slice, map or any field to nil, a *altarv1.Value field to the
// null Value (use one to tell the two apart), and is refused for any other
// field. Arguments the struct does not name are ignored: the Host has
// validated them against its own contract.
//
// A schema is derived from the same types. It is what the runtime registers
// in DEVELOPMENT mode (and declares, with DeclareContract): string, bool,
// integer and float kinds map to their ALTAR types (sized integers carry
// their range as minimum and maximum), []byte to bytes, slices and arrays to
// arrays, structs to objects, maps to open objects, pointers to nullable
// schemas, any and *altarv1.Value to any. A parameter is required unless
// its json tag has omitempty (or omitzero), it is a pointer, slice, map or
// interface, or it has a default. The altar tag adds the rest:
//
//	Places int64 `json:"places" altar:"description='Decimal places, 0 to 15.',min=0,max=15,default=2"`
//
// Its keys are description (or desc), title, min, max, exclusive_min,
// exclusive_max, multiple_of, min_length, max_length, pattern, format, enum
// (members separated by "|"), default, min_items, max_items, unique_items,
// sensitive, nullable, required, optional, and type (only for any and
// *altarv1.Value fields). A value containing a comma is written in single
// quotes. A key that does not apply to the field's type is an error, as are
// recursive types, channels and functions: Func reports it through
// Tool.Err, and New refuses the tool.
//
// Results are converted with schema.FromGo: integers stay integers, floats
// are doubles, structs are objects.
//
// # Modes
//
// In STRICT mode (the Host's default) a runtime only fulfils contracts the
// Host already trusts: after announcing itself it asks for the contracts it
// may fulfil and offers, by name, those of its tools the Host listed
// (FulfillTools). Tools the Host did not list are not offered; they are
// logged and reported in Status().Fulfilment and to the OnFulfilled
// function, as are tools the Host refused. With WithDevelopmentMode and a
// Host in DEVELOPMENT mode, the tools the Host does not know are registered
// with their derived contracts instead (RegisterTools, acknowledge_insecure).
//
// # Connections
//
// Serve dials the Host's RuntimeService (without TLS on loopback by default,
// with TLS elsewhere; see WithTransportCredentials) and runs the runtime
// protocol on one bidirectional stream: AnnounceRuntime (the protocol
// version, the capabilities of the compliance level, Level 2 by default),
// GetAvailableContracts, FulfillTools and/or RegisterTools, then calls. A
// refusal with a non-retryable code ends Serve with a *RefusedError holding
// the Host's error. When the stream breaks, Serve reconnects with
// exponential backoff and jitter and bootstraps again.
//
// A streaming tool's emit waits for room when the Host's window for the
// call is used up (the flow_control capability: the Host credits chunks
// back as its reader takes them), so a client that reads slowly holds back
// only its own stream. When the Host's trusted contracts change it offers
// them again, and the runtime fulfils them again without reconnecting. A
// runtime that keeps state per session learns of sessions ending through
// OnSessionEvent.
//
// Given a "ws://" or "wss://" URL of the Host's /v1/runtimes/connect, Serve
// runs the same protocol over a WebSocket instead (docs/http.md), one
// message per frame: binary protobuf (WebSocketProto, the default) or text
// JSON (WebSocketJSON). WithWebSocketDialOptions sets its headers (the
// runtime's key), HTTP client and subprotocol. Having no half-close, the
// WebSocket is closed normally where a gRPC stream would be half-closed.
//
// # As a plugin
//
// A Host can also launch a runtime as a go-plugin subprocess (a plugins:
// entry of its altar.yaml; see plugins/launch). ServePlugin serves that
// way: with the dialling reversed, the runtime listens on loopback, prints
// go-plugin's handshake line, and the Host opens the one stream
// (altar.v1.PluginService.Connect) on which the same protocol runs; the
// process ends with that stream. Run chooses at start: as a plugin when the
// Host's magic cookie (plugins/handshake) is in the environment, else by
// dialling; in both ways $ALTAR_RUNTIME_ID, when set, is the id announced.
// The tools are the same either way, so one binary serves both:
//
//	err = rt.Run(ctx, "") // a plugin if launched as one, else dial $ALTAR_HOST
//
// Each ToolCall runs in its own goroutine. One sender goroutine writes every
// message to the stream, from a bounded queue; heartbeats go ahead of queued
// results. When the queue is full, emit and result delivery wait: a slow
// Host slows the tools instead of growing memory. CancelInvocation cancels
// the call's context, and the call is answered ERROR_CODE_CANCELLED unless
// the tool had already produced its result. Drain stops new calls (they
// are answered ERROR_CODE_RUNTIME_UNAVAILABLE); when the calls in flight
// have answered, the runtime half-closes the stream and waits for the Host
// to close it, then reconnects. Shutdown does the same from the runtime's
// side (withdrawing its tools first), and Serve then returns.
//
// # Contexts and goroutines
//
// Serve's ctx owns everything: cancelling it ends the connection, cancels
// every running tool's context and returns once all goroutines have stopped
// — the sender, the heartbeats and every tool (a tool that ignores its
// context holds Serve up). A tool's ctx carries the call's deadline and is
// cancelled, with context.Cause saying why, when the Host cancels the call
// (an *altarerr.Error with ERROR_CODE_CANCELLED and the Host's reason) or the
// connection ends. A tool's panic is recovered into a TOOL_FAILED answer
// (the stack goes to the log, not to the Host); a panic in a goroutine the
// tool started cannot be recovered and ends the process.
//
// # Without gRPC
//
// Handler executes ToolCalls with no transport at all: Invoke returns a
// ToolResult and Stream sends StreamChunks to a function, so other
// transports (a go-plugin subprocess, an in-process Host) reuse the tools,
// the argument decoding and the error mapping unchanged.
package sdk
