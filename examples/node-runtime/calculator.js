#!/usr/bin/env node
// The calculator of manifests/calculator.yaml in a few lines of Node.js.
//
//   altar serve                       # a Host on 127.0.0.1:50051 with the calculator contracts
//   node examples/node-runtime/calculator.js
//   altar call node-calc/add a=2 b=3.5
//
// The Host owns the contracts (names, arguments, validation); this file only
// says how to fulfil them.

import { setTimeout as sleep } from "node:timers/promises";
import { Runtime } from "./altar.js";

const rt = new Runtime("node-calc");

rt.tool("add", ({ a, b }) => a + b);
rt.tool("subtract", ({ a, b }) => a - b);
// The contract already refuses b = 0. "integer" truncates toward zero; a
// whole result goes back as an integer, any other as a double.
rt.tool("divide", ({ a, b, mode = "exact" }) => (mode === "integer" ? Math.trunc(a / b) : a / b));
rt.tool("multiply", ({ factors, rounding }) => {
  const product = factors.reduce((p, f) => p * f, 1);
  if (!rounding) return product;
  const scale = 10 ** rounding.places;
  const round = { half_up: (x) => Math.sign(x) * Math.round(Math.abs(x)), down: Math.trunc, up: (x) => Math.sign(x) * Math.ceil(Math.abs(x)) }[rounding.mode];
  return (round ?? roundHalfEven)(product * scale) / scale;
});

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// A stream: one chunk per number. ctx.signal aborts on cancel or deadline,
// which also ends the pause.
rt.streamTool("count", async function* ({ start = 1, stop, step = 1, delay_ms: delayMs = 100 }, ctx) {
  for (let n = start; step > 0 ? n <= stop : n >= stop; n += step) {
    if (n !== start && delayMs > 0) await sleep(delayMs, undefined, { signal: ctx.signal });
    yield n;
  }
});

await rt.run();
