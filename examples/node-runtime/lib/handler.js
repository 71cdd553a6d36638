// The call executor: runs one ToolCall against the registered tools and
// answers it as a ToolResult (unary) or as StreamChunks. It knows nothing of
// the stream it is served on; the session feeds it calls and sends what it
// returns. Mirrors plugins/sdk/handler.go.

import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ToolResultSchema, ToolResultStatus, StreamChunkSchema, ProgressSchema } from "../gen/altar/v1/invocation_pb.js";
import { ToolError, ErrorCode } from "./errors.js";
import { fromFields, toValue } from "./values.js";

/** The values a streaming tool may yield when called without streaming. */
export const MAX_COLLECTED_CHUNKS = 100_000;

/** setTimeout's largest delay; later deadlines are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * @typedef {object} ToolDef
 * @property {string} name
 * @property {Function} fn
 * @property {boolean} streaming
 * @property {import("./values.js").NumberMode} numbers
 * @property {string} versionConstraint
 */

/**
 * @typedef {object} CallContext What a tool gets besides its arguments.
 * @property {AbortSignal} signal aborted on CancelInvocation, at the deadline, or when the connection ends; signal.reason is a ToolError (CANCELLED, DEADLINE_EXCEEDED, CONNECTION_LOST)
 * @property {Date | undefined} deadline the call's absolute deadline
 * @property {string} invocationId
 * @property {string} correlationId
 * @property {string} sessionId
 * @property {string} toolName
 * @property {string} contractVersion
 * @property {number} attempt
 * @property {Record<string, string>} metadata
 * @property {{principalId: string, tenantId: string, roles: string[], claims: Record<string, string>, authMethod: string} | undefined} securityContext
 * @property {Record<string, import("../gen/altar/v1/value_pb.js").Value>} parameters the arguments as wire Values
 * @property {(progress: number, total?: number, message?: string) => Promise<void>} progress reports progress (a progress-only chunk) on a streamed call; a no-op otherwise
 */

/**
 * callSignal links a call's AbortSignal to its parent (the session's per-call
 * controller) and to the call's deadline.
 * @param {import("../gen/altar/v1/invocation_pb.js").ToolCall} call
 * @param {AbortSignal} parent
 */
function callSignal(call, parent) {
  const ac = new AbortController();
  const onParent = () => ac.abort(parent.reason);
  let timer;
  const deadline = call.deadline ? timestampDate(call.deadline) : undefined;
  const arm = () => {
    const left = deadline.getTime() - Date.now();
    if (left <= 0) {
      ac.abort(new ToolError(ErrorCode.DEADLINE_EXCEEDED, `tool "${call.toolName}" did not finish before the call's deadline`));
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  if (parent.aborted) onParent();
  else parent.addEventListener("abort", onParent, { once: true });
  if (deadline && !ac.signal.aborted) arm();
  return {
    signal: ac.signal,
    deadline,
    done() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onParent);
    },
  };
}

/**
 * raceAbort settles with p, or rejects with signal.reason once it aborts.
 * A tool that honours its signal and settles at once (before the event loop
 * turns) answers in its own words; one that ignores it is answered for, and
 * its later rejection is swallowed.
 * @template T
 * @param {Promise<T>} p
 * @param {AbortSignal} signal
 * @returns {Promise<T>}
 */
function raceAbort(p, signal) {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      setImmediate(() => reject(signal.reason));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Values taken from a source in one event-loop turn before iterate yields. */
const ITERATE_TURN = 256;

/**
 * iterate calls fn for every value the source yields, stopping (and closing
 * the source) when the signal aborts. It lets the event loop turn every
 * ITERATE_TURN values, so that a source that never waits on I/O cannot
 * starve heartbeats and cancellation.
 * @param {unknown} src an async or sync iterable
 * @param {AbortSignal} signal
 * @param {(v: unknown) => Promise<void> | void} fn
 */
async function iterate(src, signal, fn) {
  if (src && typeof src.then === "function") src = await raceAbort(Promise.resolve(src), signal);
  let it;
  if (src && typeof src[Symbol.asyncIterator] === "function") it = src[Symbol.asyncIterator]();
  else if (src && typeof src[Symbol.iterator] === "function") it = src[Symbol.iterator]();
  else throw new ToolError(ErrorCode.INVALID_RESULT, "a streaming tool must return an async iterable (use an async function*)");
  // One abort promise for the whole iteration (as in raceAbort, a source
  // that settles at once still answers in its own words).
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => setImmediate(() => reject(signal.reason));
  });
  aborted.catch(() => {});
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  let finished = false;
  try {
    for (let n = 1; ; n++) {
      const r = await Promise.race([it.next(), aborted]);
      if (r.done) {
        finished = true;
        return;
      }
      await fn(r.value);
      if (n % ITERATE_TURN === 0) await new Promise(setImmediate);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!finished && typeof it.return === "function") {
      Promise.resolve()
        .then(() => it.return())
        .catch(() => {});
    }
  }
}

/**
 * failure is the wire error for what a tool threw: a ToolError keeps its
 * code; anything thrown after the call was stopped, a CANCELLED ToolError
 * included, says why it was stopped (so a tool that reports "cancelled" at
 * its deadline answers DEADLINE_EXCEEDED); anything else is
 * ERROR_CODE_TOOL_FAILED with its message.
 */
function failure(err, signal, call) {
  const stopped = signal.aborted && signal.reason instanceof ToolError ? signal.reason : undefined;
  let te;
  if (err instanceof ToolError && !(stopped && err.code === ErrorCode.CANCELLED)) te = err;
  else if (stopped) te = stopped; // why the call was stopped: CANCELLED, or DEADLINE_EXCEEDED past its deadline
  else te = new ToolError(ErrorCode.TOOL_FAILED, String(err?.message ?? err));
  return te.toProto({ invocationId: call.invocationId, correlationId: call.correlationId });
}

export class Handler {
  /**
   * @param {Map<string, ToolDef>} tools
   * @param {import("./log.js").Logger} log
   */
  constructor(tools, log) {
    this.tools = tools;
    this.log = log;
  }

  lookup(call) {
    const t = this.tools.get(call.toolName);
    if (t) return { t };
    const err = new ToolError(ErrorCode.TOOL_NOT_FOUND, `this runtime has no tool named "${call.toolName}"`);
    return { err: err.toProto({ invocationId: call.invocationId, correlationId: call.correlationId }) };
  }

  /** @returns {CallContext} */
  context(call, signal, deadline, progress) {
    const sc = call.securityContext;
    return {
      signal,
      deadline,
      invocationId: call.invocationId,
      correlationId: call.correlationId,
      sessionId: call.sessionId,
      toolName: call.toolName,
      contractVersion: call.contractVersion,
      attempt: call.attempt,
      metadata: { ...call.metadata },
      securityContext: sc
        ? { principalId: sc.principalId, tenantId: sc.tenantId, roles: [...sc.roles], claims: { ...sc.claims }, authMethod: sc.authMethod }
        : undefined,
      parameters: call.parameters,
      progress,
    };
  }

  /**
   * invoke runs a call and resolves to its ToolResult; it never rejects. A
   * streaming tool called this way answers with the array of every value it
   * yielded.
   * @param {import("../gen/altar/v1/invocation_pb.js").ToolCall} call
   * @param {AbortSignal} parent
   */
  async invoke(call, parent) {
    const start = performance.now();
    const res = create(ToolResultSchema, { invocationId: call.invocationId, correlationId: call.correlationId });
    const { t, err } = this.lookup(call);
    if (!t) {
      res.status = ToolResultStatus.ERROR;
      res.error = err;
      return res;
    }
    const { signal, deadline, done } = callSignal(call, parent);
    try {
      const args = fromFields(call.parameters, t.numbers);
      const ctx = this.context(call, signal, deadline, async () => {});
      let value;
      if (t.streaming) {
        const items = [];
        await iterate(t.fn(args, ctx), signal, (v) => {
          if (items.length >= MAX_COLLECTED_CHUNKS) {
            throw new ToolError(ErrorCode.RESOURCE_EXHAUSTED, `tool "${t.name}" yielded more than ${MAX_COLLECTED_CHUNKS} values; call it with streaming`);
          }
          items.push(v);
        });
        value = items;
      } else {
        value = await raceAbort(
          new Promise((resolve) => resolve(t.fn(args, ctx))),
          signal,
        );
      }
      res.payload = toValue(value, t.numbers);
      res.status = ToolResultStatus.SUCCESS;
    } catch (e) {
      res.status = ToolResultStatus.ERROR;
      res.error = failure(e, signal, call);
      this.log.debug("tool failed", { tool: t.name, invocation_id: call.invocationId, code: res.error.code, error: res.error.message });
    } finally {
      done();
    }
    res.executionTimeMs = BigInt(Math.round(performance.now() - start));
    return res;
  }

  /**
   * stream runs a call and sends its answer as chunks: chunk_id from 1, one
   * per yielded value (or progress report), then one final chunk (is_final,
   * no payload) on success or an error chunk (error and is_final) on
   * failure. A unary tool answers with one final chunk carrying its result.
   * send(chunk, signal) may wait (backpressure); for a chunk that does not
   * end the stream it must reject once signal aborts. The final chunk is
   * sent even after the call was stopped (it carries CANCELLED or
   * DEADLINE_EXCEEDED). Resolves when the final chunk is handed to send.
   * @param {import("../gen/altar/v1/invocation_pb.js").ToolCall} call
   * @param {AbortSignal} parent
   * @param {(c: import("../gen/altar/v1/invocation_pb.js").StreamChunk, signal?: AbortSignal) => Promise<void>} send
   */
  async stream(call, parent, send) {
    let next = 1n;
    const chunk = (init) =>
      create(StreamChunkSchema, { invocationId: call.invocationId, correlationId: call.correlationId, chunkId: next, ...init });
    const { t, err } = this.lookup(call);
    if (!t) {
      await send(chunk({ isFinal: true, error: err }));
      return;
    }
    const { signal, deadline, done } = callSignal(call, parent);
    // Chunks are sent one at a time (a tool may report progress without
    // awaiting it), and an id is used up only by a chunk that was queued, so
    // ids have no gaps and the final chunk comes last.
    let tail = Promise.resolve();
    let ended = false;
    const sendInOrder = (init) => {
      const p = tail.then(async () => {
        if (ended) throw new ToolError(ErrorCode.FAILED_PRECONDITION, "the call has already answered");
        await send(chunk(init), signal);
        next++;
      });
      tail = p.catch(() => {});
      return p;
    };
    const progress = (progress, total = 0, message = "") =>
      sendInOrder({ progress: create(ProgressSchema, { progress, total, message }) });
    let final;
    try {
      const args = fromFields(call.parameters, t.numbers);
      const ctx = this.context(call, signal, deadline, progress);
      if (t.streaming) {
        await iterate(t.fn(args, ctx), signal, (v) => sendInOrder({ payload: toValue(v, t.numbers) }));
        final = { isFinal: true };
      } else {
        const value = await raceAbort(new Promise((resolve) => resolve(t.fn(args, ctx))), signal);
        final = { isFinal: true, payload: toValue(value, t.numbers) };
      }
    } catch (e) {
      final = { isFinal: true, error: failure(e, signal, call) };
      this.log.debug("tool failed", { tool: t.name, invocation_id: call.invocationId, code: final.error.code, error: final.error.message });
    } finally {
      done();
    }
    await tail;
    ended = true;
    await send(chunk(final));
  }
}
