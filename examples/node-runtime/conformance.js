#!/usr/bin/env node
// The Node.js conformance runtime: every contract of
// e2e/conformance/manifest.yaml, served with this folder's runtime library.
//
//   ALTAR_HOST=127.0.0.1:50051 ALTAR_RUNTIME_ID=conformance-node node conformance.js
//
// Environment (see README.md):
//   ALTAR_HOST        the Host's runtime service to dial (default 127.0.0.1:50051)
//   ALTAR_RUNTIME_ID  the runtime id to announce (default "conformance-node")
//   ALTAR_PLUGIN      "altar-runtime-v1": run as a go-plugin plugin instead of dialling
//   ALTAR_LOG_LEVEL   debug | info | warn | error | off (default warn here)

import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Runtime, ToolError, ErrorCode, createLogger } from "./altar.js";

export const LANGUAGE = "node";

/**
 * kind names a JavaScript value converted in "exact" number mode by the
 * Value kind it came from.
 */
function kind(v) {
  if (v === null) return "null";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "string":
      return "string";
    case "bigint":
      return "int";
    case "number":
      return "double";
    case "boolean":
      return "bool";
    case "object":
      return "object";
    default:
      return "unset";
  }
}

/**
 * conformanceRuntime builds the runtime; cancelled collects the tags of the
 * conformance.sleep calls seen cancelled, in order.
 * @param {string} id
 */
export function conformanceRuntime(id, options = {}) {
  const cancelled = [];
  const rt = new Runtime(id, options);

  // Exact number mode: int_value <-> BigInt, double_value <-> number, so the
  // arguments go back exactly as they came (3 and 3.0 apart).
  rt.tool("conformance.echo", (args) => args, { numbers: "exact" });

  rt.tool(
    "conformance.describe",
    (args) => {
      const out = {};
      for (const [key, v] of Object.entries(args)) {
        const d = { kind: kind(v) };
        if (v instanceof Uint8Array) {
          d.length = BigInt(v.length); // exact mode: a number would be a double
          d.sha256 = createHash("sha256").update(v).digest("hex");
        }
        out[key] = d;
      }
      return out;
    },
    { numbers: "exact" },
  );

  rt.tool("conformance.sleep", async ({ ms, tag = "" }, ctx) => {
    try {
      await sleep(ms, undefined, { signal: ctx.signal });
    } catch (err) {
      if (!ctx.signal.aborted) throw err;
      cancelled.push(tag);
      // The contract: DEADLINE_EXCEEDED when the deadline passed, else CANCELLED.
      const code = ctx.signal.reason?.code === ErrorCode.DEADLINE_EXCEEDED ? ErrorCode.DEADLINE_EXCEEDED : ErrorCode.CANCELLED;
      throw new ToolError(code, `conformance.sleep "${tag}" stopped: ${ctx.signal.reason?.message ?? "aborted"}`);
    }
    return { slept_ms: ms };
  });

  rt.tool("conformance.cancelled", () => ({ tags: [...cancelled] }));

  rt.tool("conformance.fail", ({ message }) => {
    throw new Error(message);
  });

  rt.streamTool("conformance.count", async function* ({ n, fail_at: failAt, delay_ms: delayMs = 0 }, ctx) {
    for (let i = 0; i < n; i++) {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: ctx.signal });
      if (failAt !== undefined && i === failAt) throw new Error(`failed at ${i}`);
      yield i;
    }
  });

  rt.tool("conformance.pid", () => ({ pid: process.pid, language: LANGUAGE }));

  return { rt, cancelled };
}

if (process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url) {
  const { rt } = conformanceRuntime("conformance-node", {
    logger: createLogger({
      level: process.env.ALTAR_LOG_LEVEL ?? "warn",
      format: process.env.ALTAR_PLUGIN === "altar-runtime-v1" ? "json" : "text",
    }),
  });
  try {
    await rt.run();
  } catch (err) {
    process.stderr.write(`conformance.js: ${err.message}\n`);
    process.exit(1);
  }
  process.exit(0);
}
