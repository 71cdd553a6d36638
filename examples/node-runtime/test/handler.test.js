// The call executor without a network: answers, error codes, deadlines,
// cancellation of tools that ignore their signal, and chunk ids.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ToolCallSchema, ToolResultStatus } from "../gen/altar/v1/invocation_pb.js";
import { Runtime, ToolError, ErrorCode, createLogger } from "../altar.js";

const quiet = createLogger({ level: "off" });

function runtime() {
  const rt = new Runtime("unit", { logger: quiet });
  rt.tool("add", ({ a, b }) => a + b);
  rt.tool("refuse", () => {
    throw new ToolError(ErrorCode.INVALID_ARGUMENTS, "b must not be zero", { fieldErrors: [{ path: "/b", rule: "not", message: "zero" }] });
  });
  rt.tool("stubborn", () => new Promise(() => {})); // ignores its signal, never settles
  rt.streamTool("ticks", async function* ({ n }, ctx) {
    for (let i = 0; i < n; i++) {
      await ctx.progress(i, n, "tick");
      yield i;
    }
  });
  return rt;
}

const call = (toolName, params = {}, extra = {}) =>
  create(ToolCallSchema, { invocationId: "inv-" + toolName, correlationId: "corr-1", toolName, parameters: params, ...extra });
const int = (n) => ({ kind: { case: "intValue", value: BigInt(n) } });

test("a result, a tool's own code, an unknown tool", async () => {
  const h = runtime().handler;
  const never = new AbortController().signal;
  let res = await h.invoke(call("add", { a: int(2), b: int(3) }), never);
  assert.equal(res.status, ToolResultStatus.SUCCESS);
  assert.equal(res.payload.kind.value, 5n);
  assert.equal(res.correlationId, "corr-1");

  res = await h.invoke(call("refuse"), never);
  assert.equal(res.error.code, ErrorCode.INVALID_ARGUMENTS);
  assert.equal(res.error.fieldErrors[0].path, "/b");
  assert.equal(res.error.invocationId, "inv-refuse");

  res = await h.invoke(call("nope"), never);
  assert.equal(res.error.code, ErrorCode.TOOL_NOT_FOUND);
});

test("a tool that ignores its signal is answered at its deadline and on cancel", async () => {
  const h = runtime().handler;
  const started = Date.now();
  let res = await h.invoke(call("stubborn", {}, { deadline: timestampFromMs(Date.now() + 100) }), new AbortController().signal);
  assert.equal(res.error.code, ErrorCode.DEADLINE_EXCEEDED);
  assert.ok(Date.now() - started < 5000);

  const ac = new AbortController();
  const pending = h.invoke(call("stubborn"), ac.signal);
  await sleep(10);
  ac.abort(new ToolError(ErrorCode.CANCELLED, "cancelled by the Host: test"));
  res = await pending;
  assert.equal(res.error.code, ErrorCode.CANCELLED);
});

test("streamed: chunk ids from 1 without gaps, progress chunks, one final chunk", async () => {
  const h = runtime().handler;
  const chunks = [];
  await h.stream(call("ticks", { n: int(3) }, { stream: true }), new AbortController().signal, async (c) => {
    chunks.push(c);
  });
  assert.deepEqual(chunks.map((c) => c.chunkId), [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  assert.deepEqual(chunks.filter((c) => c.payload).map((c) => c.payload.kind.value), [0n, 1n, 2n]);
  assert.equal(chunks.filter((c) => c.progress).length, 3);
  assert.ok(chunks.at(-1).isFinal && !chunks.at(-1).payload && !chunks.at(-1).error);

  // Called without streaming: the array of every value.
  const res = await h.invoke(call("ticks", { n: int(3) }), new AbortController().signal);
  assert.deepEqual(res.payload.kind.value.items.map((i) => i.kind.value), [0n, 1n, 2n]);

  // A unary tool called with streaming: one final chunk with its result.
  const one = [];
  await h.stream(call("add", { a: int(1), b: int(1) }, { stream: true }), new AbortController().signal, async (c) => one.push(c));
  assert.equal(one.length, 1);
  assert.ok(one[0].isFinal && one[0].payload.kind.value === 2n && one[0].chunkId === 1n);
});

test("registration refuses bad names, duplicates and non-functions", () => {
  const rt = new Runtime("unit", { logger: quiet });
  rt.tool("ok.name-1", () => 1);
  assert.throws(() => rt.tool("ok.name-1", () => 1), /two tools/);
  assert.throws(() => rt.tool("has space", () => 1), /not a valid contract name/);
  assert.throws(() => rt.tool("x", 42), /must be a function/);
  assert.throws(() => rt.tool("y", () => 1, { numbers: "float" }), /numbers must be/);
});

test("a stream that never waits on I/O still lets the event loop turn", async () => {
  const rt = new Runtime("unit", { logger: quiet });
  rt.streamTool("burst", function* () {
    for (let i = 0; i < 10_000; i++) yield i;
  });
  let sent = 0;
  let seenMidStream;
  setImmediate(() => (seenMidStream = sent));
  await rt.handler.stream(call("burst", {}, { stream: true }), new AbortController().signal, async () => {
    sent++;
  });
  assert.equal(sent, 10_001);
  assert.ok(seenMidStream !== undefined && seenMidStream < 10_000, `the event loop turned only after ${seenMidStream} chunks`);
});

test("a cancelled stream ends with one CANCELLED chunk, ids without gaps, and the source closed", async () => {
  const rt = new Runtime("unit", { logger: quiet });
  let closed = false;
  rt.streamTool("forever", async function* (_args, ctx) {
    try {
      for (let i = 0; ; i++) {
        await sleep(1, undefined, { signal: ctx.signal });
        yield i;
      }
    } finally {
      closed = true;
    }
  });
  const ac = new AbortController();
  const chunks = [];
  await rt.handler.stream(call("forever", {}, { stream: true }), ac.signal, async (c) => {
    chunks.push(c);
    if (chunks.length === 5) ac.abort(new ToolError(ErrorCode.CANCELLED, "cancelled by the Host: test"));
  });
  const last = chunks.at(-1);
  assert.ok(last.isFinal && last.error.code === ErrorCode.CANCELLED, `last chunk ${last.chunkId}: ${last.error?.message}`);
  assert.deepEqual(chunks.map((c) => c.chunkId), chunks.map((_, i) => BigInt(i + 1)));
  await sleep(20);
  assert.ok(closed, "the generator's finally did not run");
});
