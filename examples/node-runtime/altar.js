// ALTAR runtime for Node.js: tools as plain functions, served to an ALTAR
// Host over gRPC, dialling in or as a go-plugin subprocess. See README.md.
//
//   import { Runtime } from "./altar.js";
//   const rt = new Runtime("node-calc");
//   rt.tool("add", ({ a, b }) => a + b);
//   rt.streamTool("count", async function* ({ n }, ctx) {
//     for (let i = 0; i < n && !ctx.signal.aborted; i++) yield i;
//   });
//   await rt.run();

export { Runtime, PROTOCOL_VERSION, VERSION, DEFAULT_HOST, CAPABILITIES } from "./lib/runtime.js";
export { ToolError, ErrorCode, codeName, isRetryable } from "./lib/errors.js";
export { double, Double, fromValue, toValue, fromFields, kindOf, MAX_DEPTH } from "./lib/values.js";
export { Refused, ConnectionEnded } from "./lib/session.js";
export { createLogger } from "./lib/log.js";
export { PLUGIN_MAGIC_COOKIE_KEY, PLUGIN_MAGIC_COOKIE_VALUE } from "./lib/transport.js";
