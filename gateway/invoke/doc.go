// Package invoke is the invocation engine: every tool call the Host makes,
// from any transport (gRPC, HTTP/JSON, WebSocket, the MCP facade), goes
// through an Engine. It routes the call to a runtime that fulfils the tool,
// and governs it on the way: session check, argument coercion and
// validation, deadline, idempotency, result cache, concurrency limits,
// retries with backoff, circuit breakers per runtime, result validation,
// ordering of streamed chunks, tracking and statistics.
//
// The engine depends only on small interfaces declared here, by the code
// that uses them: a Resolver (the contract registry: tool name to Target),
// Runtimes (the runtime registry: id to runtime.Conn and health) and,
// optionally, Sessions (the session store). It never knows whether a
// runtime is a dialled-in process, a plugin or a bridge.
//
// # One call, step by step
//
//  1. Ids: invocation_id and correlation_id are taken from the request or
//     generated (128 random bits each, crypto/rand).
//  2. Session: Sessions.Touch refreshes the session and gives the security
//     context sent to the runtime.
//  3. Tool: Resolver.Resolve gives the Target: contract, compiled schemas,
//     runtime ids. For InvokeStream the contract must support streaming.
//  4. Arguments: coerced (bytes from base64, defaults, and the lenient
//     conversions when the request asks) and validated against the
//     Host's schema. Every failing field comes back at once, with its JSON
//     pointer, as ERROR_CODE_INVALID_ARGUMENTS. Nothing is recorded yet.
//  5. Deadline: the request's timeout, else the contract's timeout_ms,
//     else the default; capped by the maximum and by the caller's own
//     context deadline. It becomes ToolCall.deadline and the deadline of
//     the context handed to the runtime.
//  6. Idempotency: the invocation_id is registered with a digest of the tool
//     and canonical arguments. A repeat with the same digest waits for the
//     running call or gets the finished one's answer, and the tool runs
//     once; a different digest is ERROR_CODE_IDEMPOTENCY_CONFLICT. A
//     finished invocation is remembered for the idempotency window (bounded
//     in count); its outcome is replayed unless nothing reached a runtime,
//     or the tool is idempotent and no runtime answered, in which case a
//     repeat runs again. Streams are never replayed: reusing a streamed id
//     is ERROR_CODE_ALREADY_EXISTS.
//  7. Cache: for idempotent and cacheable contracts with a cache_ttl_ms and
//     no sensitive parameter, a fresh cached result (same tool, version and
//     arguments) answers at once, marked with metadata MetadataCache=hit.
//  8. Tool limit: a slot of the tool's concurrency limit, waiting in its
//     bounded queue if need be (a full queue is ERROR_CODE_RESOURCE_EXHAUSTED
//     with retry_after_ms; a waiter whose context ends leaves at once).
//  9. Routing: among the Target's runtimes that are connected, not
//     unhealthy and not behind an open breaker, the one with the fewest
//     outstanding calls (counted by the engine); healthy before degraded,
//     preference order on ties. Then a slot of the runtime's limit and the
//     breaker's permission. No candidate is ERROR_CODE_RUNTIME_UNAVAILABLE,
//     with retry_after_ms when a breaker will soon let a trial call through.
//  10. Dispatch: Conn.Invoke with the ToolCall (attempt 1, 2, ...).
//  11. Retries: only for contracts flagged idempotent, only for retryable
//     codes (RUNTIME_UNAVAILABLE, DEADLINE_EXCEEDED, CONNECTION_LOST,
//     RESOURCE_EXHAUSTED, CIRCUIT_OPEN), only within RetryPolicy.MaxAttempts
//     and only if the backoff (exponential, with jitter, at least the
//     failure's retry_after) ends before the deadline. Each retry prefers a
//     runtime not tried yet. A tool's own failure (a ToolResult with status
//     ERROR) is an answer and is never retried; nor is load shed by the
//     engine's own limits.
//  12. Result: a successful payload is validated against the return type
//     (ERROR_CODE_INVALID_RESULT when it does not match); ids and the
//     runtime id are stamped on it; it is cached when step 7 applies.
//  13. Record: the invocation's state and result, statistics per tool and
//     runtime, the breaker's verdict (only runtime and transport failures
//     count against a runtime), and a log line for failures.
//
// Invoke returns a result when a runtime answered (a tool's own failure is
// a result with status ERROR); everything else is a returned
// *altarerr.Error carrying the invocation and correlation ids.
//
// # Contexts and goroutines
//
// The engine starts no goroutine of its own: a call runs on its caller's
// goroutine from start to end, and so does a stream (InvokeStream reads the
// runtime's chunks and calls send on the caller's goroutine). There is no
// background sweeper: expired invocations and cache entries are dropped as
// new ones arrive.
//
// The caller owns the ctx passed to Invoke and InvokeStream. The engine
// derives the call's context from it (adding the deadline) and owns that:
// it is what Conn.Invoke and Streamer.Stream receive, and it is cancelled
// when the caller's ctx ends, when the deadline passes, when Cancel names
// the invocation, when Close shuts the engine down, and when the call
// returns. Per the runtime.Conn contract, cancelling it reaches the runtime
// as CancelInvocation. For streams the engine also closes the ChunkStream
// when that context ends (context.AfterFunc, which runs a goroutine only
// then) and always when the stream is over; a send that fails closes the
// stream too, which cancels the runtime's work.
//
// The engine takes ownership of what a Conn returns: it stamps the ids and
// the runtime id on each ToolResult and StreamChunk, so a Conn must return
// a fresh message per call (payloads may be shared). What the engine
// returns is shared in turn (with the invocation record, the cache and
// repeats) and must not be modified.
//
// Sessions.Touch receives the caller's ctx. Resolver.Resolve and
// Runtimes.Lookup take none and must not block.
//
// # Time
//
// Timestamps, latencies, the idempotency window, cache TTLs and retry
// backoff use the Clock (WithClock; a fake in tests). The deadline of the
// context handed to the runtime is a real timer, and the circuit breaker
// (github.com/sony/gobreaker/v2) times its open period with the real
// clock.
//
// # Concurrency
//
// The hot path takes no engine-wide lock: invocations live in a 64-way
// sharded table, runtime and tool state in copy-on-write maps read with one
// atomic load, counters and the latency histogram are atomics, and the
// per-runtime breaker state is mirrored in an atomic so that routing reads
// no mutex. Locks that remain are per runtime (the breaker's, its limiter's
// when limits are set), per tool (its limiter's) and per shard.
package invoke
