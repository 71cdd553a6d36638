// mcp-client.mjs drives ALTAR's MCP facade with the official MCP TypeScript
// SDK, as a desktop client or agent would, and prints what it saw as one
// line of JSON for the Go test that runs it (e2e/mcp_facade_test.go).
//
//   node mcp-client.mjs http  <url of /mcp>        (streamable HTTP)
//   node mcp-client.mjs sse   <url of /mcp/sse>    (the older HTTP+SSE transport)
//   node mcp-client.mjs stdio <altar binary> <args...>  (launches `altar mcp --stdio`)
//
// ALTAR_KEY, when set, is sent as "Authorization: Bearer <key>".
// MCP_BRIDGED, when set, names a bridged tool to call with MCP_BRIDGED_ARGS
// (JSON). Every step has a deadline; a failure exits non-zero.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const STEP_TIMEOUT_MS = 30_000;

const [mode, target, ...rest] = process.argv.slice(2);
const key = process.env.ALTAR_KEY;
const headers = key ? { Authorization: `Bearer ${key}` } : {};

function transportFor() {
  switch (mode) {
    case 'http':
      return new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
    case 'sse':
      return new SSEClientTransport(new URL(target), {
        requestInit: { headers },
        eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...headers } }) },
      });
    case 'stdio':
      return new StdioClientTransport({ command: target, args: rest, stderr: 'inherit' });
    default:
      throw new Error(`unknown mode ${mode}: http, sse or stdio`);
  }
}

const opts = { timeout: STEP_TIMEOUT_MS };
const out = { mode };
const transport = transportFor();
const client = new Client({ name: 'altar-e2e-node', version: '1.0.0' });
out.errors = [];
client.onerror = (err) => out.errors.push(String(err));
await client.connect(transport, opts);
out.protocolVersion = transport.protocolVersion ?? null;
out.sessionId = transport.sessionId ?? null;
out.server = client.getServerVersion();

// tools/list, every page.
const tools = [];
let cursor;
do {
  const page = await client.listTools(cursor ? { cursor } : {}, opts);
  tools.push(...page.tools);
  cursor = page.nextCursor;
} while (cursor);
out.tools = tools.map((t) => ({
  name: t.name,
  hasOutputSchema: !!t.outputSchema,
  inputType: t.inputSchema?.type,
  readOnly: t.annotations?.readOnlyHint ?? null,
  meta: t._meta ?? null,
}));

// A unary call; the SDK checks structuredContent against the output schema.
out.add = await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }, undefined, opts);

// Bad arguments come back as a tool error the model can read.
out.bad = await client.callTool({ name: 'add', arguments: { a: 1 } }, undefined, opts);

// A streaming contract: progress notifications, then every chunk. The SDK
// handles a notification a tick after it reads it but a response at once,
// so chunks read in the same read as the result would be dropped: they are
// spaced out, as a real tool's are.
const progress = [];
out.count = await client.callTool(
  { name: 'count', arguments: { stop: 5, delay_ms: 50 } },
  undefined,
  { ...opts, onprogress: (p) => progress.push(p) },
);
out.progress = progress;

// Cancellation: give up on a long stream after its first chunk.
const abort = new AbortController();
let firstChunk;
const seen = new Promise((resolve) => { firstChunk = resolve; });
const long = client.callTool(
  { name: 'count', arguments: { stop: 1000, delay_ms: 10_000 } },
  undefined,
  { ...opts, signal: abort.signal, onprogress: () => firstChunk() },
);
let timer;
await Promise.race([seen, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('no first chunk')), STEP_TIMEOUT_MS); })]);
clearTimeout(timer);
abort.abort('the test gives up');
try {
  await long;
  out.cancelled = 'completed';
} catch (err) {
  // The SDK rejects an aborted call with the abort's reason.
  out.cancelled = abort.signal.aborted && /gives up|abort/i.test(String(err)) ? 'aborted' : String(err);
}

if (process.env.MCP_BRIDGED) {
  out.bridged = await client.callTool(
    { name: process.env.MCP_BRIDGED, arguments: JSON.parse(process.env.MCP_BRIDGED_ARGS || '{}') },
    undefined,
    opts,
  );
}

if (mode === 'http') {
  await transport.terminateSession();
}
await client.close();
console.log(JSON.stringify(out));
