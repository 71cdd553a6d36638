// Stream flow control without a network: a Session on a fake Wire, fed the
// Host's messages by hand. A streamed call with a stream_window sends no more
// chunks than the Host has credited back, the chunk that ends the stream
// needs no credit, and cancellation, the deadline and the connection's end
// each end a wait for credit.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { HostMessageSchema, AnnounceRuntimeResponseSchema } from "../gen/altar/v1/runtime_pb.js";
import { ToolCallSchema, CancelInvocationSchema, StreamCreditSchema } from "../gen/altar/v1/invocation_pb.js";
import { Runtime, CAPABILITIES, ErrorCode, createLogger } from "../altar.js";
import { Session, StreamWindow } from "../lib/session.js";

const quiet = createLogger({ level: "off" });

/** How long a stalled stream is watched to see that it sends nothing more. */
const STILL_MS = 50;

function runtime() {
  const rt = new Runtime("unit-flow", { logger: quiet });
  rt.streamTool("ticks", function* ({ n, fail_at: failAt }) {
    for (let i = 0; i < n; i++) {
      if (i === failAt) throw new Error(`failed at ${i}`);
      yield i;
    }
  });
  const closed = [];
  rt.streamTool("forever", async function* (_args, ctx) {
    try {
      for (let i = 0; ; i++) yield i;
    } finally {
      closed.push(ctx.invocationId);
    }
  });
  rt.streamTool("progress", async function* (_args, ctx) {
    for (let i = 0; i < 3; i++) {
      await ctx.progress(i, 3);
      yield i;
    }
  });
  return { rt, closed };
}

/**
 * connect runs a Session on a fake Wire that takes every write at once and
 * has the Host accept the announcement. host(case, value) delivers a
 * HostMessage; chunks(id) are the chunks of one call written so far.
 */
function connect(t, rt) {
  const handlers = {};
  const written = [];
  const wire = {
    write: (m) => {
      written.push(m);
      return true;
    },
    closeSend() {},
    abort() {},
    on: (ev, fn) => (handlers[ev] = fn),
  };
  const session = new Session(rt, wire, quiet);
  const done = session.run();
  t.after(async () => {
    session.finish(new Error("test over"));
    await done;
  });
  const host = (kind, value) => handlers.message(create(HostMessageSchema, { message: { case: kind, value } }));
  host("announceResponse", create(AnnounceRuntimeResponseSchema, { accepted: true, hostId: "test-host", protocolVersion: "1.0" }));
  assert.ok(session.announced, "the session did not take the announce response");
  const chunks = (id) =>
    written.filter((m) => m.message.case === "streamChunk" && m.message.value.invocationId === id).map((m) => m.message.value);
  return { session, host, chunks };
}

const int = (n) => ({ kind: { case: "intValue", value: BigInt(n) } });

const streamCall = (id, toolName, streamWindow, params = {}, extra = {}) =>
  create(ToolCallSchema, { invocationId: id, correlationId: "corr-" + id, toolName, parameters: params, stream: true, streamWindow, ...extra });

const credit = (invocationId, chunks) => create(StreamCreditSchema, { invocationId, chunks });

/** waitFor polls cond until it holds, failing after 5 s. */
async function waitFor(what, cond) {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 5 s`);
    await sleep(1);
  }
}

test("the runtime announces flow_control", () => {
  assert.ok(CAPABILITIES.includes("flow_control"));
  assert.ok(runtime().rt.announcement.capabilities.includes("flow_control"));
});

test("a windowed stream stops at its window until the Host credits chunks back", async (t) => {
  const { rt } = runtime();
  const { session, host, chunks } = connect(t, rt);
  host("toolCall", streamCall("inv-1", "ticks", 3, { n: int(10) }));

  await waitFor("the first window", () => chunks("inv-1").length === 3);
  await sleep(STILL_MS);
  assert.equal(chunks("inv-1").length, 3, "the stream sent past its window without credit");

  host("streamCredit", credit("inv-1", 2));
  await waitFor("two more chunks", () => chunks("inv-1").length === 5);
  await sleep(STILL_MS);
  assert.equal(chunks("inv-1").length, 5, "the stream sent more than it was credited");
  assert.ok(!chunks("inv-1").some((c) => c.isFinal));

  host("streamCredit", credit("inv-1", 32));
  await waitFor("the end of the stream", () => chunks("inv-1").some((c) => c.isFinal));
  const got = chunks("inv-1");
  assert.deepEqual(got.map((c) => c.chunkId), got.map((_, i) => BigInt(i + 1)));
  assert.deepEqual(got.filter((c) => c.payload).map((c) => c.payload.kind.value), [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
  assert.ok(got.at(-1).isFinal && !got.at(-1).error && got.length === 11);

  // The window is forgotten with the call; a late credit is ignored.
  await waitFor("the call finishing", () => session.active.size === 0);
  assert.equal(session.windows.size, 0);
  host("streamCredit", credit("inv-1", 5));
  host("streamCredit", credit("never-ran", 5));
});

test("progress chunks use the window too", async (t) => {
  const { rt } = runtime();
  const { host, chunks } = connect(t, rt);
  host("toolCall", streamCall("inv-p", "progress", 3));
  await waitFor("the first window", () => chunks("inv-p").length === 3);
  await sleep(STILL_MS);
  assert.deepEqual(chunks("inv-p").map((c) => (c.progress ? "progress" : "value")), ["progress", "value", "progress"]);
  host("streamCredit", credit("inv-p", 3));
  await waitFor("the end of the stream", () => chunks("inv-p").some((c) => c.isFinal));
  assert.equal(chunks("inv-p").length, 7);
});

test("the chunk that ends the stream needs no credit", async (t) => {
  const { rt } = runtime();
  const { session, host, chunks } = connect(t, rt);

  // Exactly a window of values, then the final chunk.
  host("toolCall", streamCall("inv-full", "ticks", 3, { n: int(3) }));
  await waitFor("the final chunk", () => chunks("inv-full").length === 4);
  const last = chunks("inv-full").at(-1);
  assert.ok(last.isFinal && !last.error && last.chunkId === 4n);

  // A window of values, then a failure: the error chunk goes out.
  host("toolCall", streamCall("inv-fail", "ticks", 2, { n: int(10), fail_at: int(2) }));
  await waitFor("the error chunk", () => chunks("inv-fail").length === 3);
  const e = chunks("inv-fail").at(-1);
  assert.ok(e.isFinal && e.error.code === ErrorCode.TOOL_FAILED && e.error.message === "failed at 2" && e.chunkId === 3n);

  // A tool the runtime does not have answers with an error chunk at once.
  host("toolCall", streamCall("inv-none", "nope", 1));
  await waitFor("the error chunk", () => chunks("inv-none").length === 1);
  assert.equal(chunks("inv-none")[0].error.code, ErrorCode.TOOL_NOT_FOUND);

  await waitFor("every call finishing", () => session.active.size === 0);
  assert.equal(session.windows.size, 0);
});

test("cancellation ends a wait for credit", async (t) => {
  const { rt, closed } = runtime();
  const { session, host, chunks } = connect(t, rt);
  host("toolCall", streamCall("inv-c", "forever", 2));
  await waitFor("the first window", () => chunks("inv-c").length === 2);
  await sleep(STILL_MS);
  assert.equal(chunks("inv-c").length, 2);

  host("cancelInvocation", create(CancelInvocationSchema, { invocationId: "inv-c", reason: "client went away" }));
  await waitFor("the CANCELLED chunk", () => chunks("inv-c").length === 3);
  const last = chunks("inv-c").at(-1);
  assert.ok(last.isFinal && last.error.code === ErrorCode.CANCELLED && last.chunkId === 3n, `last chunk: ${last.error?.message}`);
  await waitFor("the call finishing", () => session.active.size === 0);
  assert.equal(session.windows.size, 0);
  await waitFor("the source closed", () => closed.includes("inv-c"));
});

test("the deadline ends a wait for credit", async (t) => {
  const { rt } = runtime();
  const { session, host, chunks } = connect(t, rt);
  const started = Date.now();
  host("toolCall", streamCall("inv-d", "forever", 1, {}, { deadline: timestampFromMs(Date.now() + 150) }));
  await waitFor("the DEADLINE_EXCEEDED chunk", () => chunks("inv-d").some((c) => c.isFinal));
  const got = chunks("inv-d");
  assert.equal(got.length, 2, "one chunk in the window, then the final one");
  assert.equal(got[1].error.code, ErrorCode.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - started >= 100, "the stream ended before its deadline");
  await waitFor("the call finishing", () => session.active.size === 0);
  assert.equal(session.windows.size, 0);
});

test("the connection's end ends a wait for credit", async (t) => {
  const { rt, closed } = runtime();
  const { session, host, chunks } = connect(t, rt);
  host("toolCall", streamCall("inv-x", "forever", 2));
  await waitFor("the first window", () => chunks("inv-x").length === 2);
  session.finish(new Error("the Host went away"));
  await waitFor("the call finishing", () => session.active.size === 0);
  assert.equal(session.windows.size, 0);
  await waitFor("the source closed", () => closed.includes("inv-x"));
});

test("a window of 0 is no flow control: the stream sends freely", async (t) => {
  const { rt } = runtime();
  const { host, chunks } = connect(t, rt);
  host("toolCall", streamCall("inv-free", "ticks", 0, { n: int(500) }));
  await waitFor("the end of the stream", () => chunks("inv-free").some((c) => c.isFinal));
  assert.equal(chunks("inv-free").length, 501);
});

test("StreamWindow: waiters take credit in order; abort and close end a wait", async () => {
  const w = new StreamWindow(1);
  await w.take();
  const order = [];
  const a = w.take().then(() => order.push("a"));
  const b = w.take().then(() => order.push("b"));
  const ac = new AbortController();
  const c = w.take(ac.signal);
  ac.abort(new Error("stopped"));
  await assert.rejects(c, /stopped/);
  w.add(1);
  await a;
  assert.deepEqual(order, ["a"]);
  w.add(5);
  await b;
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(w.room, 4);

  const aborted = AbortSignal.abort(new Error("already"));
  w.room = 0;
  await assert.rejects(w.take(aborted), /already/);
  const d = w.take();
  w.close(new Error("connection lost"));
  await assert.rejects(d, /connection lost/);
  assert.equal(w.waiters.length, 0);
});
