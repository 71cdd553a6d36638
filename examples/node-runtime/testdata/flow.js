#!/usr/bin/env node
// The runtime of flow.yaml, for flow_test.go: a stream of big chunks and a
// unary call that says how many of them the stream has handed on, which
// stops growing while the runtime waits for the Host's credit.
//
//   ALTAR_HOST=127.0.0.1:PORT ALTAR_RUNTIME_ID=node-flow node testdata/flow.js

import { Runtime, createLogger } from "../altar.js";

let emitted = 0;

const rt = new Runtime("node-flow", { logger: createLogger({ level: process.env.ALTAR_LOG_LEVEL ?? "warn" }) });

rt.streamTool("flow.blocks", function* ({ n, size }) {
  const block = "x".repeat(size);
  for (let i = 0; i < n; i++) {
    yield block;
    emitted++; // resumed: the chunk was queued, past the window
  }
});

rt.tool("flow.emitted", () => ({ emitted }));

try {
  await rt.run();
} catch (err) {
  process.stderr.write(`flow.js: ${err.message}\n`);
  process.exit(1);
}
process.exit(0);
