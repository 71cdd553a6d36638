// The two ways a runtime reaches its Host, both over @grpc/grpc-js:
//
//   dial:   the runtime calls altar.v1.RuntimeService/Connect on the Host.
//   plugin: the Host launched the runtime (hashicorp/go-plugin); the runtime
//           serves altar.v1.PluginService/Connect, grpc.health.v1.Health and
//           plugin.GRPCController on 127.0.0.1:<free port> and prints
//           go-plugin's handshake line "1|1|tcp|127.0.0.1:PORT|grpc".
//
// Both hand the session a Wire (see session.js), so the protocol code is one.

import * as grpc from "@grpc/grpc-js";
import { toBinary, fromBinary } from "@bufbuild/protobuf";
import { RuntimeService, PluginService } from "../gen/altar/v1/runtime_pb.js";

/** go-plugin's handshake values, fixed by the Host (plugins/ on the Go side). */
export const PLUGIN_MAGIC_COOKIE_KEY = "ALTAR_PLUGIN";
export const PLUGIN_MAGIC_COOKIE_VALUE = "altar-runtime-v1";
export const PLUGIN_CORE_PROTOCOL_VERSION = 1;
export const PLUGIN_APP_PROTOCOL_VERSION = 1;

/** The largest message either side of the runtime stream accepts. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * grpcMethod turns a protobuf-es method descriptor into a grpc-js method
 * definition (protobuf-es v2 generates no grpc-js code).
 */
function grpcMethod(method) {
  const path = `/${method.parent.typeName}/${method.name}`;
  const ser = (schema) => (m) => Buffer.from(toBinary(schema, m));
  const de = (schema) => (b) => fromBinary(schema, b);
  return {
    path,
    originalName: method.name,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: ser(method.input),
    requestDeserialize: de(method.input),
    responseSerialize: ser(method.output),
    responseDeserialize: de(method.output),
  };
}

export const runtimeServiceDef = { Connect: grpcMethod(RuntimeService.method.connect) };
export const pluginServiceDef = { Connect: grpcMethod(PluginService.method.connect) };

// grpc.health.v1.Health/Check, serialized by hand: the request is
// {string service = 1}, the response {ServingStatus status = 1} with
// SERVING = 1.
const SERVING = 1;
const SERVICE_UNKNOWN = 3;
const healthServiceDef = {
  Check: {
    path: "/grpc.health.v1.Health/Check",
    originalName: "Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (req) => encodeString1(req.service ?? ""),
    requestDeserialize: (b) => ({ service: decodeString1(b) }),
    responseSerialize: (res) => Buffer.from(res.status ? [0x08, res.status] : []),
    responseDeserialize: (b) => ({ status: b.length >= 2 && b[0] === 0x08 ? b[1] : 0 }),
  },
};

// plugin.GRPCController/Shutdown(Empty) returns (Empty): go-plugin's
// Client.Kill calls it, then waits for the process to exit by itself.
const emptyCodec = { serialize: () => Buffer.alloc(0), deserialize: () => ({}) };
const controllerServiceDef = {
  Shutdown: {
    path: "/plugin.GRPCController/Shutdown",
    originalName: "Shutdown",
    requestStream: false,
    responseStream: false,
    requestSerialize: emptyCodec.serialize,
    requestDeserialize: emptyCodec.deserialize,
    responseSerialize: emptyCodec.serialize,
    responseDeserialize: emptyCodec.deserialize,
  },
};

function encodeString1(s) {
  const body = Buffer.from(s, "utf8");
  if (body.length === 0) return Buffer.alloc(0);
  const len = [];
  let n = body.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), body]);
}

/**
 * decodeString1 reads field 1 (a string) of a small message, skipping other
 * fields; the input is bounded by gRPC's message limit.
 */
export function decodeString1(b) {
  let i = 0;
  let out = "";
  const varint = () => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (i >= b.length) throw new Error("truncated varint");
      const c = b[i++];
      v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) return v;
    }
    throw new Error("varint too long");
  };
  while (i < b.length) {
    const tag = varint();
    const wt = tag & 7;
    if (wt === 0) varint();
    else if (wt === 2) {
      const n = varint();
      if (i + n > b.length) throw new Error("truncated field");
      if (tag >>> 3 === 1) out = b.subarray(i, i + n).toString("utf8");
      i += n;
    } else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else throw new Error(`unsupported wire type ${wt}`);
  }
  return out;
}

/** isLoopback reports whether a "host:port" target names this machine. */
export function isLoopback(target) {
  let host = target.replace(/^dns:(\/\/[^/]*\/)?/, "");
  if (host.startsWith("unix:")) return true;
  const m = host.match(/^\[([^\]]+)\](:\d+)?$/) ?? host.match(/^([^:]+)(:\d+)?$/);
  host = m ? m[1] : host;
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * dialer opens RuntimeService.Connect streams to addr. Without TLS to a
 * loopback address, with TLS (the system's roots) to any other, unless
 * ALTAR_INSECURE=1.
 * @param {string} addr
 * @param {{insecure?: boolean}} [opts]
 */
export function dialer(addr, opts = {}) {
  const insecure = opts.insecure ?? (isLoopback(addr) || process.env.ALTAR_INSECURE === "1");
  const creds = insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl();
  const Client = grpc.makeGenericClientConstructor(runtimeServiceDef, "altar.v1.RuntimeService");
  const client = new Client(addr, creds, {
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 30_000,
    // The one long-lived stream is never retried by gRPC (the runtime
    // reconnects and announces again itself), so grpc-js need not keep sent
    // messages for a retry. With no retry buffer, a write completes when
    // the transport took the message, which is what makes write() push back
    // (otherwise grpc-js buffers up to 256 KiB of messages and its
    // bookkeeping grows with them).
    "grpc.enable_retries": 0,
    "grpc.per_rpc_retry_buffer_size": 0,
  });
  return {
    /** @returns {import("./session.js").Wire} */
    open() {
      const call = client.Connect();
      return clientWire(call);
    },
    close() {
      client.close();
    },
  };
}

function clientWire(call) {
  let closed = false;
  const listeners = { message: [], closed: [], drain: [] };
  const emit = (ev, arg) => listeners[ev].forEach((fn) => fn(arg));
  const close = (err) => {
    if (closed) return;
    closed = true;
    emit("closed", err);
  };
  call.on("data", (m) => emit("message", m));
  call.on("drain", () => emit("drain"));
  call.on("error", (err) => close(new Error(`the stream to the Host failed: ${err.details || err.message}`, { cause: err })));
  call.on("end", () => close(new Error("the Host closed the stream")));
  return {
    write: (m) => call.write(m),
    closeSend: () => call.end(),
    abort: () => {
      closed = true;
      call.cancel();
    },
    on: (ev, fn) => listeners[ev].push(fn),
  };
}

function serverWire(call) {
  let closed = false;
  const listeners = { message: [], closed: [], drain: [] };
  const emit = (ev, arg) => listeners[ev].forEach((fn) => fn(arg));
  const close = (err) => {
    if (closed) return;
    closed = true;
    emit("closed", err);
  };
  call.on("data", (m) => emit("message", m));
  call.on("drain", () => emit("drain"));
  call.on("error", (err) => close(new Error(`the stream from the Host failed: ${err.message}`, { cause: err })));
  call.on("cancelled", () => close(new Error("the Host cancelled the stream")));
  call.on("end", () => close(new Error("the Host closed the stream")));
  return {
    write: (m) => call.write(m),
    closeSend: () => {
      call.end();
      close(new Error("the runtime ended the stream"));
    },
    abort: () => {
      if (!call.writableEnded) call.end();
      closed = true;
    },
    on: (ev, fn) => listeners[ev].push(fn),
  };
}

/**
 * servePlugin serves the plugin services on 127.0.0.1 and prints go-plugin's
 * handshake line on stdout. onConnect gets a Wire for the Host's one
 * PluginService.Connect stream; a second concurrent one is refused. onStop
 * is called when the Host asks the plugin to shut down (GRPCController).
 * @param {{onConnect: (w: import("./session.js").Wire) => void, onStop: () => void, log: import("./log.js").Logger}} h
 * @returns {Promise<{server: grpc.Server, port: number}>}
 */
export async function servePlugin(h) {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  let connected = false;
  server.addService(pluginServiceDef, {
    Connect(call) {
      if (connected) {
        call.emit("error", { code: grpc.status.ALREADY_EXISTS, details: "this plugin already serves a Host stream" });
        return;
      }
      connected = true;
      h.onConnect(serverWire(call));
    },
  });
  server.addService(healthServiceDef, {
    Check(call, cb) {
      const service = call.request.service;
      cb(null, { status: service === "" || service === "plugin" ? SERVING : SERVICE_UNKNOWN });
    },
  });
  server.addService(controllerServiceDef, {
    Shutdown(_call, cb) {
      cb(null, {});
      h.onStop();
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const line = `${PLUGIN_CORE_PROTOCOL_VERSION}|${PLUGIN_APP_PROTOCOL_VERSION}|tcp|127.0.0.1:${port}|grpc\n`;
  await new Promise((resolve) => process.stdout.write(line, resolve));
  h.log.debug("plugin serving", { addr: `127.0.0.1:${port}` });
  return { server, port };
}
