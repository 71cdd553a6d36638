// One accepted connection to a Host: the runtime protocol over one stream,
// whichever side dialled. Mirrors plugins/sdk/session.go: announce, discover
// (GetAvailableContracts), fulfil, then serve ToolCalls concurrently (bounded
// by maxConcurrency), honour CancelInvocation, Drain and deadlines, and send
// a Heartbeat every interval the Host asked for, dropping the connection
// when the Host has been silent longer than its heartbeat timeout. A
// streaming call with a window (flow_control) sends no more chunks than the
// Host has credited back (StreamWindow).

import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { randomBytes } from "node:crypto";
import {
  RuntimeMessageSchema,
  FulfillToolsSchema,
  ToolFulfillmentSchema,
  HeartbeatSchema,
  WithdrawToolsSchema,
  GetAvailableContractsSchema,
  RuntimeHealth,
} from "../gen/altar/v1/runtime_pb.js";
import { ToolResultSchema, ToolResultStatus, StreamChunkSchema } from "../gen/altar/v1/invocation_pb.js";
import { HostMode } from "../gen/altar/v1/contract_pb.js";
import { ToolError, ErrorCode, codeName } from "./errors.js";

/** Timing the Host does not dictate (the same as the Go SDK's). */
export const ANNOUNCE_TIMEOUT_MS = 30_000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
const SILENT_INTERVALS = 3;
const DEFAULT_DRAIN_GRACE_MS = 30_000;
const DRAIN_SLACK_MS = 5_000;
const BUSY_RETRY_AFTER_MS = 100;
/** Messages queued in one event-loop turn before producers wait for the next. */
const YIELD_EVERY = 32;

/** The most room a stream window holds (StreamCredit.chunks is a uint32). */
const MAX_WINDOW = 2 ** 32 - 1;

/** Queued behind the last answer, it half-closes the stream. */
const CLOSE_SEND = Symbol("closeSend");

/**
 * @typedef {object} Wire One stream, seen from the runtime.
 * @property {(m: import("../gen/altar/v1/runtime_pb.js").RuntimeMessage) => boolean} write false: wait for "drain"
 * @property {() => void} closeSend half-close (or, on the serving side, end the call)
 * @property {() => void} abort end the stream at once
 * @property {(ev: "message" | "closed" | "drain", fn: Function) => void} on "closed" gets an Error saying why
 */

/** ConnectionEnded is why a session ended. */
export class ConnectionEnded extends Error {
  constructor(message, opts) {
    super(message, opts);
    this.name = "ConnectionEnded";
  }
}

/** Refused is the Host's refusal of the announcement; error is its ToolError. */
export class Refused extends Error {
  /** @param {string} hostId @param {ToolError} error */
  constructor(hostId, error) {
    super(`${hostId ? "Host " + hostId : "the Host"} refused the runtime: ${error}`, { cause: error });
    this.name = "Refused";
    this.hostId = hostId;
    this.error = error;
  }
}

function durationMs(d) {
  return d ? Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6) : 0;
}

/**
 * waitInLine puts a waiter (fields, plus resolve, reject, signal and
 * onAbort) at the end of queue and returns its promise. Whoever wakes it
 * shifts it off the queue, removes its abort listener and resolves it; an
 * abort first takes it out of the queue and rejects with signal.reason.
 * @param {object[]} queue
 * @param {AbortSignal} [signal]
 * @param {object} [fields]
 * @returns {Promise<void>}
 */
function waitInLine(queue, signal, fields = {}) {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const w = {
      ...fields,
      resolve,
      reject,
      signal,
      onAbort: () => {
        const i = queue.indexOf(w);
        if (i >= 0) queue.splice(i, 1);
        reject(signal.reason);
      },
    };
    signal?.addEventListener("abort", w.onAbort, { once: true });
    queue.push(w);
  });
}

/**
 * StreamWindow is how many more chunks a flow-controlled stream may send
 * before the Host credits more back (ToolCall.stream_window, StreamCredit).
 * Mirrors the Go SDK's streamWindow.
 */
export class StreamWindow {
  /** @param {number} room the call's stream_window */
  constructor(room) {
    this.room = room;
    /** @type {{resolve: () => void, reject: (err: unknown) => void, signal?: AbortSignal, onAbort: () => void}[]} */
    this.waiters = [];
  }

  /**
   * take uses one chunk's room, waiting for credit while there is none. It
   * rejects with signal.reason once signal aborts first, and with the reason
   * given to close.
   * @param {AbortSignal} [signal]
   * @returns {Promise<void>}
   */
  take(signal) {
    if (this.room > 0 && this.waiters.length === 0) {
      this.room--;
      return Promise.resolve();
    }
    return waitInLine(this.waiters, signal);
  }

  /** add gives n more chunks' room, waking waiters in order. */
  add(n) {
    this.room = Math.min(this.room + n, MAX_WINDOW);
    while (this.room > 0 && this.waiters.length > 0) {
      const w = this.waiters.shift();
      w.signal?.removeEventListener("abort", w.onAbort);
      this.room--;
      w.resolve();
    }
  }

  /** close fails every wait with err (the connection ended). */
  close(err) {
    for (const w of this.waiters.splice(0)) {
      w.signal?.removeEventListener("abort", w.onAbort);
      w.reject(err);
    }
  }
}

export class Session {
  /**
   * @param {import("./runtime.js").Runtime} rt
   * @param {Wire} wire
   * @param {import("./log.js").Logger} log
   */
  constructor(rt, wire, log) {
    this.rt = rt;
    this.wire = wire;
    this.log = log;
    this.prefix = "rt-" + randomBytes(6).toString("hex");
    this.ctrl = [];
    this.data = [];
    this.spaceWaiters = [];
    this.queuedThisTurn = 0;
    this.turn = null;
    this.blocked = false;
    this.sendClosed = false;
    /** @type {Map<string, AbortController>} */
    this.active = new Map();
    /** @type {Map<string, StreamWindow>} flow-controlled streams running */
    this.windows = new Map();
    this.draining = false;
    this.closeQueued = false;
    this.accepted = [];
    this.pendingReplies = 0;
    this.fulfilment = { accepted: [], rejected: [] };
    this.ended = false;
    this.announced = false;
    this.timers = new Set();
    /** @type {Promise<{accepted: boolean, error: Error}>} */
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /**
   * run announces and serves until the stream ends. It resolves with whether
   * the Host accepted the runtime and why the session ended; it never
   * rejects.
   */
  run() {
    this.wire.on("message", (m) => this.receive(m));
    this.wire.on("closed", (err) => this.finish(err));
    this.wire.on("drain", () => {
      this.blocked = false;
      this.pump();
    });
    this.announceTimer = this.timer(ANNOUNCE_TIMEOUT_MS, () =>
      this.finish(new ConnectionEnded(`the Host did not answer the announcement within ${ANNOUNCE_TIMEOUT_MS} ms`)),
    );
    this.enqueueCtrl(create(RuntimeMessageSchema, {
      correlationId: this.prefix + "-announce",
      message: { case: "announce", value: this.rt.announcement },
    }));
    return this.done;
  }

  timer(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  /** finish ends the session once: calls are stopped, timers cleared. */
  finish(err) {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.heartbeatTimer);
    const lost = new ToolError(ErrorCode.CONNECTION_LOST, `the connection to the Host ended: ${err?.message ?? err}`);
    for (const ac of this.active.values()) ac.abort(lost);
    for (const w of this.windows.values()) w.close(lost);
    for (const w of this.spaceWaiters.splice(0)) w.reject(lost);
    this.wire.abort();
    this.rt.setSession(null, this);
    this.resolveDone({ accepted: this.announced, error: err });
  }

  // ---- sending ---------------------------------------------------------

  enqueueCtrl(m) {
    if (this.ended) return;
    this.ctrl.push(m);
    this.pump();
  }

  /**
   * enqueue queues a message behind earlier answers, waiting while the queue
   * is full. It rejects when the session ends or, when given, signal aborts
   * first; a rejected message was not queued.
   * @param {unknown} m
   * @param {AbortSignal} [signal]
   */
  enqueue(m, signal) {
    if (this.ended) return Promise.reject(new ToolError(ErrorCode.CONNECTION_LOST, "the connection to the Host has ended"));
    if (this.data.length < this.rt.options.sendQueue) {
      this.data.push(m);
      this.pump();
      return ++this.queuedThisTurn < YIELD_EVERY ? Promise.resolve() : this.nextTurn();
    }
    return waitInLine(this.spaceWaiters, signal, { m });
  }

  /**
   * nextTurn resolves on the event loop's next turn. A tool that produces
   * chunks without awaiting anything else runs on microtasks alone, which
   * would starve the event loop: no heartbeat in or out, no CancelInvocation
   * read, nothing actually written to the socket until the tool ends. After
   * YIELD_EVERY queued messages in one turn, producers wait for the next.
   */
  nextTurn() {
    this.turn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.turn = null;
        this.queuedThisTurn = 0;
        resolve();
      }),
    );
    return this.turn;
  }

  /** pump writes queued messages, control messages first, until the stream pushes back. */
  pump() {
    while (!this.blocked && !this.ended && !this.sendClosed) {
      let m = this.ctrl.shift();
      if (m === undefined) {
        m = this.data.shift();
        if (m === undefined) return;
        const w = this.spaceWaiters.shift();
        if (w) {
          w.signal?.removeEventListener("abort", w.onAbort);
          this.data.push(w.m);
          w.resolve();
        }
      }
      if (m === CLOSE_SEND) {
        this.sendClosed = true;
        this.wire.closeSend();
        return;
      }
      if (!this.wire.write(m)) this.blocked = true;
    }
  }

  // ---- receiving -------------------------------------------------------

  receive(msg) {
    if (this.ended) return;
    this.lastRecv = Date.now();
    const { case: kind, value } = msg.message;
    if (!this.announced) {
      this.answerToAnnounce(kind, value);
      return;
    }
    switch (kind) {
      case "toolCall":
        this.startCall(value);
        break;
      case "cancelInvocation":
        this.cancelCall(value);
        break;
      case "streamCredit":
        this.creditStream(value);
        break;
      case "heartbeat":
        break; // any message proves the Host alive
      case "availableContracts":
        this.offerTools(value);
        break;
      case "fulfillToolsResponse":
      case "registerToolsResponse":
        this.toolsAnswered(value.accepted, value.rejected);
        break;
      case "drain":
        this.drain(value.reason, durationMs(value.gracePeriod));
        break;
      case "sessionEvent":
        this.log.debug("session event", { session_id: value.sessionId, kind: value.kind });
        break;
      case "error": {
        const e = ToolError.fromProto(value);
        this.log.error("the Host ended the stream with an error", { code: codeName(e.code), error: e.message });
        this.finish(new ConnectionEnded(`the Host ended the stream: ${e}`, { cause: e }));
        break;
      }
      default:
        this.log.debug("ignoring an unexpected message from the Host", { type: kind ?? "none" });
    }
  }

  answerToAnnounce(kind, value) {
    clearTimeout(this.announceTimer);
    this.timers.delete(this.announceTimer);
    if (kind === "error") {
      this.refused("", value);
      return;
    }
    if (kind !== "announceResponse") {
      this.finish(new ConnectionEnded(`the Host answered the announcement with ${kind ?? "nothing"}, not an announce_response`));
      return;
    }
    if (!value.accepted) {
      this.refused(value.hostId, value.error);
      return;
    }
    const major = (value.protocolVersion || "1.0").split(".")[0];
    if (major !== "1") {
      const e = new ToolError(ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, `the Host speaks protocol "${value.protocolVersion}"; this runtime speaks 1.0`);
      this.finish(new Refused(value.hostId, e));
      return;
    }
    this.announced = true;
    this.hostId = value.hostId;
    this.hostMode = value.hostMode;
    this.heartbeatMs = durationMs(value.heartbeatInterval) || DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.heartbeatTimeoutMs = durationMs(value.heartbeatTimeout) || SILENT_INTERVALS * this.heartbeatMs;
    this.log.info("connected to the Host", {
      host_id: value.hostId,
      host_mode: HostMode[value.hostMode],
      capabilities: value.capabilities.join(","),
      heartbeat_interval_ms: this.heartbeatMs,
    });
    this.rt.setSession(this);
    this.heartbeatSeq = 0n;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.enqueueCtrl(create(RuntimeMessageSchema, {
      correlationId: this.prefix + "-contracts",
      message: { case: "getAvailableContracts", value: create(GetAvailableContractsSchema) },
    }));
    if (this.rt.shuttingDown) this.startDraining(true);
  }

  refused(hostId, e) {
    const err = ToolError.fromProto(e);
    this.log.error("the Host refused the runtime", { host_id: hostId, code: codeName(err.code), error: err.message });
    this.finish(new Refused(hostId, err));
  }

  heartbeat() {
    if (this.ended) return;
    const silence = Date.now() - this.lastRecv;
    if (silence > this.heartbeatTimeoutMs) {
      this.log.warn("the Host is silent; dropping the connection", { silent_for_ms: silence, heartbeat_timeout_ms: this.heartbeatTimeoutMs });
      this.finish(new ConnectionEnded("the Host sent nothing for longer than its heartbeat timeout"));
      return;
    }
    this.heartbeatSeq++;
    this.enqueueCtrl(create(RuntimeMessageSchema, {
      message: {
        case: "heartbeat",
        value: create(HeartbeatSchema, {
          sequence: this.heartbeatSeq,
          sentAt: timestampNow(),
          inFlight: this.active.size,
          health: this.draining ? RuntimeHealth.UNHEALTHY : RuntimeHealth.HEALTHY,
        }),
      },
    }));
  }

  // ---- bootstrap -------------------------------------------------------

  offerTools(ac) {
    const offered = new Set(ac.contracts.map((c) => c.name));
    const fulfil = [];
    this.fulfilment = { accepted: [], rejected: [] };
    for (const t of this.rt.tools.values()) {
      if (offered.has(t.name)) {
        fulfil.push(create(ToolFulfillmentSchema, { contractName: t.name, versionConstraint: t.versionConstraint }));
        continue;
      }
      const e = new ToolError(
        ErrorCode.CONTRACT_NOT_TRUSTED,
        `the Host did not offer a contract named "${t.name}" (it is not in the Host's manifests, or needs a level or capability this runtime did not declare)`,
      );
      this.fulfilment.rejected.push({ toolName: t.name, error: e.toProto() });
    }
    if (fulfil.length > 0) {
      this.pendingReplies++;
      this.enqueueCtrl(create(RuntimeMessageSchema, {
        correlationId: this.prefix + "-fulfill",
        message: { case: "fulfillTools", value: create(FulfillToolsSchema, { tools: fulfil }) },
      }));
    } else {
      this.publishFulfilment();
    }
  }

  toolsAnswered(accepted, rejected) {
    this.fulfilment.accepted.push(...accepted);
    this.fulfilment.rejected.push(...rejected);
    // The Host offers its contracts again when they change; a tool fulfilled
    // again replaces its earlier entry (the list withdrawn at shutdown).
    const again = new Set(accepted.map((a) => a.qualifiedName));
    this.accepted = this.accepted.filter((a) => !again.has(a.qualifiedName)).concat(accepted);
    if (this.pendingReplies > 0 && --this.pendingReplies === 0) this.publishFulfilment();
  }

  publishFulfilment() {
    const f = this.fulfilment;
    this.log.info("tools fulfilled", { accepted: f.accepted.map((a) => a.qualifiedName).join(",") });
    for (const r of f.rejected) {
      this.log.warn("tool not fulfilled", { tool: r.toolName, code: codeName(r.error?.code ?? 0), error: r.error?.message });
    }
    this.rt.fulfilled(f);
  }

  // ---- calls -----------------------------------------------------------

  startCall(call) {
    const id = call.invocationId;
    if (!id) {
      this.log.warn("ignoring a tool call without an invocation_id", { tool: call.toolName });
      return;
    }
    if (this.active.has(id)) {
      // Answering would be taken as the answer of the running call.
      this.log.warn("ignoring a tool call whose invocation_id is already running", { invocation_id: id });
      return;
    }
    const limit = this.rt.options.maxConcurrency;
    let refusal;
    if (this.draining) {
      refusal = new ToolError(ErrorCode.RUNTIME_UNAVAILABLE, `runtime "${this.rt.id}" is draining and takes no new calls`);
    } else if (limit > 0 && this.active.size >= limit) {
      refusal = new ToolError(ErrorCode.RESOURCE_EXHAUSTED, `runtime "${this.rt.id}" is at max_concurrency ${limit}`, {
        retryAfterMs: BUSY_RETRY_AFTER_MS,
        details: { limit: "max_concurrency", runtime_id: this.rt.id },
      });
    }
    if (refusal) {
      this.log.debug("refusing a tool call", { invocation_id: id, code: codeName(refusal.code) });
      this.enqueue(refusalMessage(call, refusal)).catch(() => {});
      return;
    }
    const ac = new AbortController();
    this.active.set(id, ac);
    let window;
    if (call.stream && call.streamWindow > 0) {
      window = new StreamWindow(call.streamWindow);
      this.windows.set(id, window);
    }
    const run = call.stream
      ? this.rt.handler.stream(call, ac.signal, (c, signal) => this.sendChunk(c, signal, window))
      : this.rt.handler.invoke(call, ac.signal).then((res) =>
          this.enqueue(create(RuntimeMessageSchema, { correlationId: call.correlationId, message: { case: "toolResult", value: res } })),
        );
    run
      .catch((err) => this.log.debug("answer not delivered", { invocation_id: id, error: err }))
      .finally(() => this.finishCall(id));
  }

  /**
   * sendChunk queues one chunk of a streamed call. With a window, a chunk
   * that does not end the stream first waits for room (credit from the
   * Host); the chunk that ends it (is_final, or an error) is always allowed.
   * @param {import("../gen/altar/v1/invocation_pb.js").StreamChunk} c
   * @param {AbortSignal} [signal] ends the waits of a chunk that does not end the stream
   * @param {StreamWindow} [window]
   */
  async sendChunk(c, signal, window) {
    const m = create(RuntimeMessageSchema, { correlationId: c.correlationId, message: { case: "streamChunk", value: c } });
    if (c.isFinal || c.error) return this.enqueue(m);
    if (window) await window.take(signal);
    return this.enqueue(m, signal);
  }

  /** creditStream gives a running stream the room the Host credited back; a credit for a stream that ended is ignored. */
  creditStream(c) {
    this.windows.get(c.invocationId)?.add(c.chunks);
  }

  finishCall(id) {
    this.active.delete(id);
    this.windows.delete(id);
    if (this.draining && this.active.size === 0) this.queueClose();
  }

  cancelCall(c) {
    const ac = this.active.get(c.invocationId);
    if (!ac) {
      this.log.debug("ignoring a cancel for a call that is not running", { invocation_id: c.invocationId });
      return;
    }
    const e = new ToolError(ErrorCode.CANCELLED, `cancelled by the Host: ${c.reason || "no reason given"}`);
    this.log.debug("call cancelled", { invocation_id: c.invocationId });
    this.rt.cancelled(c.invocationId);
    ac.abort(e);
  }

  // ---- draining --------------------------------------------------------

  drain(reason, graceMs) {
    graceMs ||= DEFAULT_DRAIN_GRACE_MS;
    this.log.info("the Host is draining", { reason, grace_period_ms: graceMs, in_flight: this.active.size });
    if (!this.drainTimer) {
      this.drainTimer = this.timer(graceMs + DRAIN_SLACK_MS, () =>
        this.finish(new ConnectionEnded("the Host did not close the stream after draining")),
      );
    }
    this.startDraining(false);
  }

  /**
   * startDraining takes no new calls, withdraws the tools when asked (the
   * runtime's own shutdown), and half-closes the stream once no call is in
   * flight.
   */
  startDraining(withdraw) {
    this.draining = true;
    if (!this.drainTimer) {
      this.drainTimer = this.timer(DEFAULT_DRAIN_GRACE_MS + DRAIN_SLACK_MS, () =>
        this.finish(new ConnectionEnded("the Host did not close the stream after draining")),
      );
    }
    if (withdraw && this.accepted.length > 0) {
      this.enqueueCtrl(create(RuntimeMessageSchema, {
        correlationId: this.prefix + "-withdraw",
        message: {
          case: "withdrawTools",
          value: create(WithdrawToolsSchema, { toolNames: this.accepted.map((a) => a.contractName), reason: "runtime shutting down" }),
        },
      }));
    }
    if (this.active.size === 0) this.queueClose();
  }

  queueClose() {
    if (this.closeQueued) return;
    this.closeQueued = true;
    this.enqueue(CLOSE_SEND).catch(() => {});
  }
}

function refusalMessage(call, e) {
  const err = e.toProto({ invocationId: call.invocationId, correlationId: call.correlationId });
  if (call.stream) {
    return create(RuntimeMessageSchema, {
      correlationId: call.correlationId,
      message: {
        case: "streamChunk",
        value: create(StreamChunkSchema, {
          invocationId: call.invocationId,
          correlationId: call.correlationId,
          chunkId: 1n,
          isFinal: true,
          error: err,
        }),
      },
    });
  }
  return create(RuntimeMessageSchema, {
    correlationId: call.correlationId,
    message: {
      case: "toolResult",
      value: create(ToolResultSchema, {
        invocationId: call.invocationId,
        correlationId: call.correlationId,
        status: ToolResultStatus.ERROR,
        error: err,
      }),
    },
  });
}
