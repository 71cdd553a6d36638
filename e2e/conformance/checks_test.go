package conformance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Tool names of the conformance manifest.
const (
	toolEcho      = "conformance.echo"
	toolDescribe  = "conformance.describe"
	toolSleep     = "conformance.sleep"
	toolCancelled = "conformance.cancelled"
	toolFail      = "conformance.fail"
	toolCount     = "conformance.count"
	toolPID       = "conformance.pid"
)

// checkBootstrap starts the runtime and checks that the Host routes every
// contract of the manifest to it, that it announced its language, and the
// order of its bootstrap: as the Host saw it (connected, that is announced
// and accepted, before any contract was fulfilled) and, in dial mode, on
// the wire through a recording proxy (announce, then
// GetAvailableContracts, then FulfillTools offering exactly what the Host
// listed).
func checkBootstrap(t *testing.T, ctx context.Context, e *rowEnv) {
	var took time.Duration
	e.host, e.proc, e.sup, took = e.startRuntime(e.t, ctx, e.id, e.tools, manifestPath)
	e.measured("bootstrap (start to all tools routed)", took)

	info, err := e.host.runtimeInfo(ctx, e.id)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetLanguage() != e.spec.Language || info.GetTransport() != e.transport() {
		t.Errorf("announced language %q over %q, want %q over %q", info.GetLanguage(), info.GetTransport(), e.spec.Language, e.transport())
	}
	events := e.host.events.forRuntime(e.id)
	connected := slices.Index(events, "log runtime_connected "+e.id)
	if connected < 0 {
		t.Fatalf("the Host never logged the runtime connected; its events: %q", events)
	}
	var fulfilled []string
	for i, ev := range events {
		f := strings.Fields(ev)
		switch {
		case f[0] == "audit" && f[1] == "contract.fulfil" && f[4] == "accepted":
			if i < connected {
				t.Errorf("contract %s fulfilled before the runtime's announce was accepted: %q", f[3], events)
			}
			fulfilled = append(fulfilled, f[3])
		case f[0] == "audit" && f[1] == "contract.reject":
			t.Errorf("the Host refused one of its tools: %s", ev)
		}
	}
	slices.Sort(fulfilled)
	if !slices.Equal(fulfilled, e.tools) {
		t.Errorf("fulfilled %v, want %v", fulfilled, e.tools)
	}

	if e.mode != dial {
		return
	}
	// A second process of the same runtime, through the proxy.
	proxy := startProxy(t, e.host.addr)
	boot := e.startDialling(t, proxy.addr, e.id+"-boot")
	e.host.waitServing(t, ctx, e.id+"-boot", e.tools)
	boot.stop()
	sent, offered, available := proxy.recorded()
	if len(sent) < 3 || sent[0] != "announce" || sent[1] != "discover" || sent[2] != "fulfil" {
		t.Errorf("the runtime's first messages were %v, want announce, discover, fulfil", sent)
	}
	if !slices.Equal(available, e.tools) || !slices.Equal(offered, available) {
		t.Errorf("the Host listed %v; the runtime offered %v", available, offered)
	}
	t.Logf("runtime messages during bootstrap (heartbeats left out): %v", sent)
}

// checkUnknownContract runs the runtime against a second Host whose
// manifest lacks conformance.fail: the runtime implements a tool the Host
// does not trust. The Host must never route it (whether the runtime
// offered it and was refused, or did not offer it), and the runtime must
// fulfil and serve the rest.
func checkUnknownContract(t *testing.T, ctx context.Context, e *rowEnv) {
	const untrusted = toolFail
	reduced := manifestWithout(t, untrusted)
	want := slices.DeleteFunc(slices.Clone(e.tools), func(s string) bool { return s == untrusted })
	h, _, _, _ := e.startRuntime(t, ctx, e.id, want, reduced)

	_, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: untrusted, Parameters: args("message", vStr("x"))})
	if code := altarerr.CodeOf(err); code != altarv1.ErrorCode_ERROR_CODE_TOOL_NOT_FOUND {
		t.Errorf("calling the untrusted %s: %v, want TOOL_NOT_FOUND", untrusted, err)
	}
	resp, err := h.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: toolEcho, Parameters: args("text", vStr("still serving"))})
	if err != nil || resp.GetResult().GetPayload().GetObjectValue().GetFields()["text"].GetStringValue() != "still serving" {
		t.Errorf("the runtime does not serve its trusted tools: %v, %v", resp, err)
	}
	offered := false
	for _, ev := range h.events.forRuntime(e.id) {
		if f := strings.Fields(ev); f[1] == "contract.reject" && f[3] == untrusted {
			offered = true
		}
		if f := strings.Fields(ev); f[1] == "contract.fulfil" && f[3] == untrusted {
			t.Errorf("the Host fulfilled an untrusted contract: %s", ev)
		}
	}
	if offered {
		t.Logf("the runtime offered %s; the Host refused it", untrusted)
	} else {
		t.Logf("the runtime did not offer %s, which the Host did not list", untrusted)
	}
}

// manifestWithout writes the conformance manifest without one contract.
func manifestWithout(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	contracts, _ := m["contracts"].([]any)
	m["contracts"] = slices.DeleteFunc(contracts, func(c any) bool {
		cm, _ := c.(map[string]any)
		return cm["name"] == name
	})
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reduced.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkSchema sends arguments that do not match the Host's schema: each is
// refused with INVALID_ARGUMENTS naming the field, and none reaches the
// runtime (its call counts do not move); a valid call then does.
func checkSchema(t *testing.T, ctx context.Context, e *rowEnv) {
	before := e.callCounts(t, ctx)
	cases := []struct {
		name, tool string
		args       map[string]*altarv1.Value
		field      string
	}{
		{"wrong type", toolEcho, args("big", vStr("9007199254740993")), "big"},
		{"double for an integer", toolEcho, args("big", vDouble(1.5)), "big"},
		{"not in the schema", toolEcho, args("colour", vStr("red")), "colour"},
		{"below the minimum", toolSleep, args("ms", vInt(-1)), "ms"},
		{"required and missing", toolFail, args(), "message"},
		{"null where not nullable", toolEcho, args("flag", vNull()), "flag"},
	}
	for _, c := range cases {
		_, err := e.invoke(ctx, c.tool, c.args)
		ae := altarerr.From(err)
		if err == nil || ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
			t.Errorf("%s: %v, want INVALID_ARGUMENTS", c.name, err)
			continue
		}
		named := false
		for _, f := range ae.Fields {
			if strings.Contains(f.GetPath(), c.field) || strings.Contains(f.GetMessage(), c.field) {
				named = true
			}
		}
		if !named {
			t.Errorf("%s: the error does not name %q: %v", c.name, c.field, ae)
		}
	}
	if after := e.callCounts(t, ctx); !mapsEqual(before, after) {
		t.Errorf("refused calls reached the runtime: calls per tool %v, then %v", before, after)
	}
	e.mustInvoke(t, ctx, toolEcho, args("big", vInt(1)))
	waitFor(t, ctx, func() bool { return e.callCounts(t, ctx)[toolEcho] == before[toolEcho]+1 },
		"the valid call to be counted once")
}

// callCounts are the Host's counts of the calls it routed to the runtime,
// by tool.
func (e *rowEnv) callCounts(t *testing.T, ctx context.Context) map[string]uint64 {
	t.Helper()
	resp, err := e.host.client.GetToolStats(ctx, &altarv1.GetToolStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range resp.GetStats() {
		if s.GetRuntimeId() == e.id {
			out[s.GetToolName()] += s.GetCalls()
		}
	}
	return out
}

func mapsEqual(a, b map[string]uint64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// checkNullVsMissing: an argument sent as null reaches the runtime as null,
// one left out is absent (describe), and echo gives both back unchanged.
func checkNullVsMissing(t *testing.T, ctx context.Context, e *rowEnv) {
	cases := []struct {
		name string
		args map[string]*altarv1.Value
		want map[string]string // key: kind
	}{
		{"null", args("text", vNull()), map[string]string{"text": "null"}},
		{"missing", args("flag", vBool(true)), map[string]string{"flag": "bool"}},
		{"none", args(), map[string]string{}},
		{"null and present", args("text", vNull(), "big", vInt(7), "ratio", vDouble(0.5)),
			map[string]string{"text": "null", "big": "int", "ratio": "double"}},
	}
	for _, c := range cases {
		got := e.mustInvoke(t, ctx, toolDescribe, c.args).GetObjectValue().GetFields()
		kinds := map[string]string{}
		for k, v := range got {
			d, ok := readDescription(v)
			if !ok {
				t.Errorf("%s: describe reported %s as %v", c.name, k, v)
			}
			kinds[k] = d.kind
		}
		if fmt.Sprint(kinds) != fmt.Sprint(c.want) {
			t.Errorf("%s: describe saw %v, want %v", c.name, kinds, c.want)
		}
		echoed := e.mustInvoke(t, ctx, toolEcho, c.args).GetObjectValue().GetFields()
		for k, v := range c.args {
			if kindOf(echoed[k]) != kindOf(v) {
				t.Errorf("%s: echo gave %s back as %v", c.name, k, echoed[k])
			}
		}
		if len(echoed) != len(c.args) {
			t.Errorf("%s: echo gave back %v for %v", c.name, echoed, c.args)
		}
	}
}

// checkInt64: integers beyond 2^53 (where a double loses them) cross both
// ways exactly and stay integers.
func checkInt64(t *testing.T, ctx context.Context, e *rowEnv) {
	for _, n := range []int64{1<<53 + 1, -(1<<53 + 1), math.MinInt64, math.MaxInt64, 0} {
		got := e.mustInvoke(t, ctx, toolEcho, args("big", vInt(n))).GetObjectValue().GetFields()["big"]
		if iv, ok := got.GetKind().(*altarv1.Value_IntValue); !ok || iv.IntValue != n {
			t.Errorf("echo big=%d gave back %v", n, got)
		}
		d, _ := readDescription(e.mustInvoke(t, ctx, toolDescribe, args("big", vInt(n))).GetObjectValue().GetFields()["big"])
		if d.kind != "int" {
			t.Errorf("describe big=%d: the runtime saw a %q", n, d.kind)
		}
	}
}

// checkBinary: 1 MiB of random bytes reaches the runtime as bytes (its
// length and SHA-256 as sent), and bytes come back as bytes: the Host API
// and the runtime protocol carry them as protobuf bytes_value, never as
// base64 text.
func checkBinary(t *testing.T, ctx context.Context, e *rowEnv) {
	blob := make([]byte, 1<<20)
	_, _ = rand.Read(blob)
	sum := sha256.Sum256(blob)
	got := e.mustInvoke(t, ctx, toolDescribe, args("blob", vBytes(blob))).GetObjectValue().GetFields()["blob"]
	d, ok := readDescription(got)
	if !ok || d.kind != "bytes" || d.length != int64(len(blob)) || d.sha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("describe saw 1 MiB of bytes as %v", got)
	}
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	back := e.mustInvoke(t, ctx, toolEcho, args("blob", vBytes(every))).GetObjectValue().GetFields()["blob"]
	if b, ok := back.GetKind().(*altarv1.Value_BytesValue); !ok || string(b.BytesValue) != string(every) {
		t.Errorf("echo gave the 256 byte values back as %v", back)
	}
}

// streamed is what a streaming call produced.
type streamed struct {
	values []int64 // the payloads, in order of arrival
	other  []string
	final  *altarv1.StreamChunk // the last chunk
	chunks int
}

// stream runs conformance.count and reads it to its end.
func (e *rowEnv) stream(t *testing.T, ctx context.Context, a map[string]*altarv1.Value) streamed {
	t.Helper()
	st, err := e.host.client.InvokeStream(ctx, &altarv1.InvokeStreamRequest{Request: &altarv1.InvokeRequest{ToolName: toolCount, Parameters: a}})
	if err != nil {
		t.Fatal(err)
	}
	var s streamed
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return s
		}
		if err != nil {
			t.Fatalf("after %d chunks: %v", s.chunks, err)
		}
		ch := resp.GetChunk()
		s.chunks++
		if s.final != nil {
			t.Fatalf("a chunk after the final one: %v", ch)
		}
		if p := ch.GetPayload(); p != nil {
			if iv, ok := p.GetKind().(*altarv1.Value_IntValue); ok {
				s.values = append(s.values, iv.IntValue)
			} else if len(s.other) < 10 {
				s.other = append(s.other, p.String())
			}
		}
		if ch.GetIsFinal() || ch.GetError() != nil {
			s.final = ch
		}
	}
}

// checkStream: 10,000 chunks, in order, then the end of the stream.
func checkStream(t *testing.T, ctx context.Context, e *rowEnv) {
	const n = 10_000
	start := time.Now()
	s := e.stream(t, ctx, args("n", vInt(n)))
	e.measured("stream of 10,000 chunks", time.Since(start))
	if len(s.other) > 0 {
		t.Errorf("chunks that are not integers: %v", s.other)
	}
	if len(s.values) != n {
		t.Errorf("%d integer chunks, want %d", len(s.values), n)
	}
	for i, v := range s.values {
		if v != int64(i) {
			t.Fatalf("chunk %d carries %d", i, v)
		}
	}
	if s.final == nil || !s.final.GetIsFinal() || s.final.GetError() != nil {
		t.Errorf("the stream did not end with a final chunk: %v", s.final)
	}
}

// checkErrorChunk: chunks 0..4, then an in-band error chunk saying
// "failed at 5", then nothing.
func checkErrorChunk(t *testing.T, ctx context.Context, e *rowEnv) {
	s := e.stream(t, ctx, args("n", vInt(10), "fail_at", vInt(5)))
	if !slices.Equal(s.values, []int64{0, 1, 2, 3, 4}) {
		t.Errorf("chunks before the error: %v, want 0 to 4", s.values)
	}
	if s.final.GetError() == nil || s.final.GetError().GetMessage() != "failed at 5" {
		t.Errorf("the stream ended with %v, want an error chunk saying \"failed at 5\"", s.final)
	} else {
		t.Logf("error chunk: %s: %s", altarerr.CodeName(s.final.GetError().GetCode()), s.final.GetError().GetMessage())
	}
	// And a unary tool error.
	res, err := e.invoke(ctx, toolFail, args("message", vStr("as asked")))
	if err != nil || res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR || res.GetError().GetMessage() != "as asked" {
		t.Errorf("conformance.fail: %v, %v; want a tool error saying \"as asked\"", res, err)
	}
}

// cancelledTags is what conformance.cancelled reports.
func (e *rowEnv) cancelledTags(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var tags []string
	for _, v := range e.mustInvoke(t, ctx, toolCancelled, args()).GetObjectValue().GetFields()["tags"].GetArrayValue().GetItems() {
		tags = append(tags, v.GetStringValue())
	}
	return tags
}

// waitExecuting waits until the Host has sent invocation id to the
// runtime: the Host marks it EXECUTING just before it writes the ToolCall
// to the runtime's stream (the runtime's own in_flight, from its
// heartbeats, can be stale, and not every runtime reports it).
func (e *rowEnv) waitExecuting(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	waitFor(t, ctx, func() bool {
		resp, err := e.host.client.GetInvocation(ctx, &altarv1.GetInvocationRequest{InvocationId: id})
		return err == nil && resp.GetInvocation().GetState() == altarv1.InvocationState_INVOCATION_STATE_EXECUTING
	}, "invocation %s to reach the runtime", id)
}

// outcome is the error code a call ended with: the Host's error, or the
// tool's error in its result, or UNSPECIFIED for a success.
func outcome(res *altarv1.ToolResult, err error) altarv1.ErrorCode {
	if err != nil {
		return altarerr.CodeOf(err)
	}
	return res.GetError().GetCode()
}

// checkCancel: a call cancelled by CancelInvocation, and one whose caller
// went away, are both seen cancelled by the runtime.
func checkCancel(t *testing.T, ctx context.Context, e *rowEnv) {
	ways := []struct {
		name   string
		cancel func(id string, cancelCaller context.CancelFunc) error
		want   altarv1.ErrorCode
	}{
		{"CancelInvocation", func(id string, _ context.CancelFunc) error {
			resp, err := e.host.client.CancelInvocation(ctx, &altarv1.CancelInvocationRequest{InvocationId: id, Reason: "conformance"})
			if err == nil && !resp.GetCancelled() {
				err = errors.New("CancelInvocation: the Host says the call had already finished")
			}
			return err
		}, altarv1.ErrorCode_ERROR_CODE_CANCELLED},
		{"caller gone", func(_ string, cancelCaller context.CancelFunc) error {
			cancelCaller()
			return nil
		}, altarv1.ErrorCode_ERROR_CODE_CANCELLED},
	}
	for i, w := range ways {
		tag := fmt.Sprintf("cancel-%d-%d", i, time.Now().UnixNano())
		callCtx, cancelCall := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			resp, err := e.host.client.Invoke(callCtx, &altarv1.InvokeRequest{ToolName: toolSleep, InvocationId: tag,
				Parameters: args("ms", vInt(30_000), "tag", vStr(tag))})
			if e := altarerr.FromProto(resp.GetResult().GetError()); err == nil && e != nil {
				err = e
			}
			errc <- err
		}()
		e.waitExecuting(t, ctx, tag)
		start := time.Now()
		if err := w.cancel(tag, cancelCall); err != nil {
			t.Error(err)
		}
		err := <-errc
		cancelCall()
		if code := altarerr.CodeOf(err); code != w.want {
			t.Errorf("%s: the call ended with %v, want %s", w.name, err, altarerr.CodeName(w.want))
		}
		waitFor(t, ctx, func() bool { return slices.Contains(e.cancelledTags(t, ctx), tag) },
			"the runtime to report %s cancelled (%s)", tag, w.name)
		e.measured("cancel seen by the runtime ("+w.name+")", time.Since(start))
	}
}

// checkDeadline: a call whose deadline passes fails DEADLINE_EXCEEDED and
// the runtime sees it cancelled.
func checkDeadline(t *testing.T, ctx context.Context, e *rowEnv) {
	tag := fmt.Sprintf("deadline-%d", time.Now().UnixNano())
	start := time.Now()
	resp, err := e.host.client.Invoke(ctx, &altarv1.InvokeRequest{ToolName: toolSleep, Timeout: durationpb.New(300 * time.Millisecond),
		Parameters: args("ms", vInt(30_000), "tag", vStr(tag))})
	if code := outcome(resp.GetResult(), err); code != altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
		t.Errorf("the call ended with %v, %v; want DEADLINE_EXCEEDED", resp, err)
	}
	e.measured("deadline of 300ms: call ended after", time.Since(start))
	waitFor(t, ctx, func() bool { return slices.Contains(e.cancelledTags(t, ctx), tag) },
		"the runtime to report %s cancelled", tag)
}

// pid asks the runtime for its process id and checks its language, and
// that it is the process the suite (dial) or the supervisor (plugin)
// started.
func (e *rowEnv) pid(t *testing.T, ctx context.Context) int {
	t.Helper()
	pid, err := e.askPID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func (e *rowEnv) askPID(ctx context.Context) (int, error) {
	res, err := e.invoke(ctx, toolPID, args())
	if err != nil {
		return 0, fmt.Errorf("conformance.pid: %w", err)
	}
	f := res.GetPayload().GetObjectValue().GetFields()
	if lang := f["language"].GetStringValue(); lang != e.spec.Language {
		return 0, fmt.Errorf("conformance.pid reports the language %q, want %q", lang, e.spec.Language)
	}
	pid := int(f["pid"].GetIntValue())
	switch {
	case pid <= 0:
		return 0, fmt.Errorf("conformance.pid reported %v", res)
	case e.proc != nil && pid != e.proc.pid():
		return 0, fmt.Errorf("conformance.pid reported %d; the process started is %d", pid, e.proc.pid())
	case e.sup != nil && pid != e.sup.Status()[0].PID:
		return 0, fmt.Errorf("conformance.pid reported %d; the supervisor started %d", pid, e.sup.Status()[0].PID)
	}
	return pid, nil
}

// waitNewProcess waits until the runtime serves its calls from a process
// other than old (a plugin the supervisor restarted), and checks that old
// is gone (killed and reaped).
func (e *rowEnv) waitNewProcess(t *testing.T, ctx context.Context, old int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, restartTimeout)
	defer cancel()
	var last error
	waitFor(t, ctx, func() bool {
		pid, err := e.askPID(ctx)
		last = err
		return err == nil && pid != old
	}, "the plugin to serve again from a new process (last: %v)", func() string { return fmt.Sprint(last) })
	e.host.waitServing(t, ctx, e.id, e.tools)
	if err := syscall.Kill(old, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the old plugin process %d is still there (kill 0: %v)", old, err)
	}
}

// checkHeartbeatLoss stops the runtime's process (SIGSTOP): the Host must
// drop it once its heartbeats stop. Dial mode: continued (SIGCONT), the
// same process connects again and serves. Plugin mode: the supervisor
// kills the silent process and starts a new one, which serves.
func checkHeartbeatLoss(t *testing.T, ctx context.Context, e *rowEnv) {
	// First, that it sends heartbeats at all: the Host's last one advances.
	before, err := e.host.runtimeInfo(ctx, e.id)
	if err != nil || before == nil {
		t.Fatalf("runtime %s: %v, %v", e.id, before, err)
	}
	waitFor(t, ctx, func() bool {
		info, err := e.host.runtimeInfo(ctx, e.id)
		return err == nil && info.GetLastHeartbeatAt().AsTime().After(before.GetLastHeartbeatAt().AsTime())
	}, "a heartbeat from the runtime (the Host asks for one every %v)", heartbeatInterval)

	pid := e.pid(t, ctx)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }() // whatever happens (gone by then in plugin mode)
	waitFor(t, ctx, func() bool {
		info, err := e.host.runtimeInfo(ctx, e.id)
		return err == nil && (info == nil || info.GetConnectedAt().AsTime().After(stopped))
	}, "the Host to drop the stopped runtime (heartbeat timeout %v)", heartbeatTimeout)
	e.measured(fmt.Sprintf("heartbeat loss: dropped after (timeout %v)", heartbeatTimeout), time.Since(stopped))
	start := time.Now()
	switch e.mode {
	case dial:
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		e.host.waitServing(t, ctx, e.id, e.tools)
		if got := e.pid(t, ctx); got != pid {
			t.Errorf("pid %d after SIGCONT, was %d", got, pid)
		}
		e.measured("heartbeat loss: serving again after SIGCONT", time.Since(start))
	case plugin:
		e.waitNewProcess(t, ctx, pid)
		e.measured("heartbeat loss: a new plugin process serving after", time.Since(start))
	}
}

// checkReconnect: dial mode: the Host goes away and a new one starts on the
// same address; the runtime connects to it and serves, as the same process.
// Plugin mode: the plugin's process is killed (SIGKILL); the supervisor
// starts a new one, which serves.
func checkReconnect(t *testing.T, ctx context.Context, e *rowEnv) {
	pid := e.pid(t, ctx)
	start := time.Now()
	switch e.mode {
	case dial:
		addr := e.host.addr
		e.host.close()
		// The new Host belongs to the row, not to this check.
		e.host = startHost(e.t, addr, manifestPath)
		e.host.waitServing(t, ctx, e.id, e.tools)
		e.measured("reconnect: serving a new Host on the same address after", time.Since(start))
		if got := e.pid(t, ctx); got != pid {
			t.Errorf("pid %d after the reconnect, was %d", got, pid)
		}
	case plugin:
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		e.waitNewProcess(t, ctx, pid)
		e.measured("reconnect: a killed plugin serving again after", time.Since(start))
	}
}
