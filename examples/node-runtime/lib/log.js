// A small structured logger writing to stderr (stdout belongs to go-plugin's
// handshake in plugin mode). Two formats: "text" (time level message k=v …)
// and "json" in hclog's shape ({"@level","@message","@timestamp",…}), which
// go-plugin parses from a plugin's stderr into the Host's structured log.
// Never log argument values or secrets: only ids, names, codes and counts.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, off: 100 };

/**
 * @typedef {{debug: LogFn, info: LogFn, warn: LogFn, error: LogFn, with: (attrs: Record<string, unknown>) => Logger}} Logger
 * @typedef {(msg: string, attrs?: Record<string, unknown>) => void} LogFn
 */

/**
 * createLogger builds a logger. level: "debug" | "info" | "warn" | "error" |
 * "off" (default from ALTAR_LOG_LEVEL, else "info"); format: "text" | "json".
 * @param {{level?: string, format?: "text" | "json", write?: (line: string) => void, attrs?: Record<string, unknown>}} [opts]
 * @returns {Logger}
 */
export function createLogger(opts = {}) {
  const min = LEVELS[opts.level ?? process.env.ALTAR_LOG_LEVEL ?? "info"] ?? LEVELS.info;
  const format = opts.format ?? "text";
  const write = opts.write ?? ((line) => process.stderr.write(line + "\n"));
  const base = opts.attrs ?? {};

  const emit = (level, msg, attrs) => {
    if (LEVELS[level] < min) return;
    const all = { ...base, ...attrs };
    if (format === "json") {
      const rec = { "@level": level, "@message": msg, "@timestamp": new Date().toISOString() };
      for (const [k, v] of Object.entries(all)) rec[k] = plain(v);
      write(JSON.stringify(rec));
      return;
    }
    let line = `${new Date().toISOString()} ${level.toUpperCase()} ${msg}`;
    for (const [k, v] of Object.entries(all)) line += ` ${k}=${quote(plain(v))}`;
    write(line);
  };
  return {
    debug: (msg, attrs) => emit("debug", msg, attrs),
    info: (msg, attrs) => emit("info", msg, attrs),
    warn: (msg, attrs) => emit("warn", msg, attrs),
    error: (msg, attrs) => emit("error", msg, attrs),
    with: (attrs) => createLogger({ ...opts, attrs: { ...base, ...attrs } }),
  };
}

function plain(v) {
  if (v instanceof Error) return v.message;
  if (typeof v === "bigint") return v.toString();
  return v;
}

function quote(v) {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
