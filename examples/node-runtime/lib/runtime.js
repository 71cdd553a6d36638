// Runtime: a registry of tools (plain functions) served to an ALTAR Host.

import { create } from "@bufbuild/protobuf";
import { AnnounceRuntimeSchema } from "../gen/altar/v1/runtime_pb.js";
import { ComplianceLevel } from "../gen/altar/v1/contract_pb.js";
import { Handler } from "./handler.js";
import { Session, Refused } from "./session.js";
import { dialer, servePlugin, PLUGIN_MAGIC_COOKIE_KEY, PLUGIN_MAGIC_COOKIE_VALUE } from "./transport.js";
import { createLogger } from "./log.js";

/** The ALTAR protocol version this runtime speaks. */
export const PROTOCOL_VERSION = "1.0";

/** The version of this library, announced as the runtime's version by default. */
export const VERSION = "0.1.0";

/** The Host address dialled when ALTAR_HOST is not set. */
export const DEFAULT_HOST = "127.0.0.1:50051";

/**
 * The capabilities announced (proto/altar/v1/capabilities.go): Level 2 and
 * what it requires, plus binary payloads, progress and flow control (a
 * streamed call's chunks wait for the Host's credit, see session.js).
 */
export const CAPABILITIES = Object.freeze([
  "altar_level_1",
  "heartbeat",
  "altar_level_2",
  "streaming",
  "cancellation",
  "correlation",
  "security_context",
  "rich_errors",
  "progress",
  "binary_payloads",
  "flow_control",
]);

/** How long a plugin waits for the Host to open its stream. */
const PLUGIN_CONNECT_TIMEOUT_MS = 30_000;

// A contract name (gateway/contract.ValidateName): a letter or "_", then
// letters, digits, "_", "-" or "."; at most 64 characters.
const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * backoff is the delay before reconnect attempt n (from 0): min doubled n
 * times, capped at max, with equal jitter (half fixed, half random).
 */
export function backoff(n, minMs, maxMs) {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(n, 40));
  const half = d / 2;
  return half + Math.random() * (d - half);
}

/**
 * @typedef {object} RuntimeOptions
 * @property {string} [version] the runtime's own version (default VERSION)
 * @property {number} [maxConcurrency] calls run at once; more are refused with RESOURCE_EXHAUSTED; 0 = no limit (default 64)
 * @property {number} [sendQueue] answers and chunks queued before a streaming tool waits (default 256)
 * @property {number} [reconnectMinMs] first reconnect delay (default 250)
 * @property {number} [reconnectMaxMs] largest reconnect delay (default 30000)
 * @property {Record<string, string>} [metadata] announced metadata
 * @property {import("./log.js").Logger} [logger]
 * @property {(f: {accepted: object[], rejected: object[]}) => void} [onFulfilled] called after each bootstrap
 */

/**
 * @typedef {object} ToolOptions
 * @property {"natural" | "exact"} [numbers] how integers and doubles convert (see values.js; default "natural")
 * @property {string} [version] a version constraint for the contract ("1.2.0", "^1.2"); empty for any
 */

export class Runtime {
  /**
   * @param {string} id the runtime id; ALTAR_RUNTIME_ID, when set, wins (the Host names its plugins)
   * @param {RuntimeOptions} [options]
   */
  constructor(id, options = {}) {
    this.id = process.env.ALTAR_RUNTIME_ID || id;
    if (!this.id) throw new TypeError("Runtime: an id is required (or set ALTAR_RUNTIME_ID)");
    this.options = {
      version: VERSION,
      maxConcurrency: 64,
      sendQueue: 256,
      reconnectMinMs: 250,
      reconnectMaxMs: 30_000,
      metadata: {},
      ...options,
    };
    this.plugin = process.env[PLUGIN_MAGIC_COOKIE_KEY] === PLUGIN_MAGIC_COOKIE_VALUE;
    this.log = (this.options.logger ?? createLogger({ format: this.plugin ? "json" : "text" })).with({ runtime_id: this.id });
    /** @type {Map<string, import("./handler.js").ToolDef>} */
    this.tools = new Map();
    this.handler = new Handler(this.tools, this.log);
    this.session = null;
    this.shuttingDown = false;
    this.stopWaiters = [];
    this.cancelListeners = [];
    this.fulfilledListeners = this.options.onFulfilled ? [this.options.onFulfilled] : [];
  }

  /**
   * tool registers a unary tool: fn(args, ctx) returns (or resolves to) the
   * result. The name is the contract's name in the Host's manifests.
   * @param {string} name
   * @param {(args: Record<string, any>, ctx: import("./handler.js").CallContext) => unknown} fn
   * @param {ToolOptions} [opts]
   * @returns {this}
   */
  tool(name, fn, opts = {}) {
    return this.register(name, fn, false, opts);
  }

  /**
   * streamTool registers a streaming tool: fn(args, ctx) returns an async
   * iterable (write it as an async function*); each value it yields is one
   * chunk.
   * @param {string} name
   * @param {(args: Record<string, any>, ctx: import("./handler.js").CallContext) => AsyncIterable<unknown> | Iterable<unknown>} fn
   * @param {ToolOptions} [opts]
   * @returns {this}
   */
  streamTool(name, fn, opts = {}) {
    return this.register(name, fn, true, opts);
  }

  register(name, fn, streaming, opts) {
    if (typeof name !== "string" || !TOOL_NAME.test(name)) throw new TypeError(`tool name ${JSON.stringify(name)} is not a valid contract name`);
    if (typeof fn !== "function") throw new TypeError(`tool "${name}": fn must be a function`);
    if (this.tools.has(name)) throw new TypeError(`two tools are named "${name}"`);
    const numbers = opts.numbers ?? "natural";
    if (numbers !== "natural" && numbers !== "exact") throw new TypeError(`tool "${name}": numbers must be "natural" or "exact"`);
    this.tools.set(name, { name, fn, streaming, numbers, versionConstraint: opts.version ?? "" });
    return this;
  }

  /** The AnnounceRuntime message this runtime sends. */
  get announcement() {
    return create(AnnounceRuntimeSchema, {
      runtimeId: this.id,
      language: "node",
      version: this.options.version,
      protocolVersion: PROTOCOL_VERSION,
      capabilities: [...CAPABILITIES],
      complianceLevel: ComplianceLevel.COMPLIANCE_LEVEL_2,
      metadata: { ...this.options.metadata, node_version: process.version },
      maxConcurrency: this.options.maxConcurrency,
    });
  }

  /** onFulfilled adds a listener called with the outcome of every bootstrap. */
  onFulfilled(fn) {
    this.fulfilledListeners.push(fn);
  }

  /** onCancelled adds a listener called with the invocation id of every call the Host cancels. */
  onCancelled(fn) {
    this.cancelListeners.push(fn);
  }

  fulfilled(f) {
    for (const fn of this.fulfilledListeners) fn(f);
  }

  cancelled(id) {
    for (const fn of this.cancelListeners) fn(id);
  }

  setSession(s, only) {
    if (only && this.session !== only) return;
    this.session = s;
  }

  /**
   * run is the one entry point: plugin mode when the Host launched the
   * process (ALTAR_PLUGIN=altar-runtime-v1), else dial ALTAR_HOST (default
   * 127.0.0.1:50051). SIGINT and SIGTERM shut down gracefully. It resolves
   * when the runtime has stopped and rejects when the Host refused it for
   * good.
   */
  async run() {
    const onSignal = (sig) => {
      this.log.info("signal received; shutting down", { signal: sig });
      this.shutdown();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      if (this.plugin) await this.servePlugin();
      else await this.serve(process.env.ALTAR_HOST || DEFAULT_HOST);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  /**
   * serve dials the Host's RuntimeService at addr and serves until shutdown
   * (or signal aborts), reconnecting with exponential backoff and jitter
   * when the stream breaks. It rejects with a Refused error when the Host
   * refuses the runtime with a code that is not retryable.
   * @param {string} addr
   * @param {{signal?: AbortSignal}} [opts]
   */
  async serve(addr, opts = {}) {
    const d = dialer(addr);
    const log = this.log.with({ host: addr });
    const onAbort = () => this.shutdown();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let attempt = 0;
    try {
      while (!this.shuttingDown) {
        const session = new Session(this, d.open(), log);
        const { accepted, error } = await session.run();
        if (error instanceof Refused && !error.error.retryable) throw error;
        if (this.shuttingDown) break;
        if (accepted) attempt = 0;
        const delay = backoff(attempt++, this.options.reconnectMinMs, this.options.reconnectMaxMs);
        log.warn("connection to the Host ended; reconnecting", { error, retry_in_ms: Math.round(delay) });
        await this.sleepUnlessStopped(delay);
      }
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      d.close();
    }
  }

  /**
   * servePlugin serves the runtime as a go-plugin plugin: it serves the
   * plugin services, prints the handshake line, serves the Host's one
   * stream and resolves when that stream ends (the Host closed it, killed
   * the plugin's connection, or asked it to shut down).
   */
  async servePlugin() {
    let resolveSession;
    const sessionDone = new Promise((resolve) => (resolveSession = resolve));
    const { server } = await servePlugin({
      log: this.log,
      onConnect: (wire) => {
        const session = new Session(this, wire, this.log);
        session.run().then(resolveSession);
      },
      onStop: () => {
        this.log.info("the Host asked the plugin to stop");
        this.shutdown();
        this.session?.finish(new Error("the Host asked the plugin to stop"));
        resolveSession({ accepted: false, error: new Error("stopped by the Host") });
      },
    });
    const timeout = setTimeout(
      () => resolveSession({ accepted: false, error: new Error(`the Host did not open the plugin stream within ${PLUGIN_CONNECT_TIMEOUT_MS} ms`) }),
      PLUGIN_CONNECT_TIMEOUT_MS,
    );
    const stopped = new Promise((resolve) => this.stopWaiters.push(resolve)).then(() => {
      if (!this.session) resolveSession({ accepted: false, error: new Error("shut down before the Host connected") });
    });
    void stopped;
    const { error } = await sessionDone;
    clearTimeout(timeout);
    server.forceShutdown();
    if (error instanceof Refused) throw error;
    this.log.info("plugin stream ended", { reason: error });
  }

  /**
   * shutdown stops the runtime gracefully: the connection withdraws its
   * tools, takes no new calls, lets the calls in flight answer, then closes
   * its side; serve and run then resolve without reconnecting.
   */
  shutdown() {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.session?.startDraining(true);
    for (const w of this.stopWaiters.splice(0)) w();
  }

  sleepUnlessStopped(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.stopWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
