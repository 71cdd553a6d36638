#!/usr/bin/env bash
# The MCP benchmark: in one run on loopback, 1 and 64 concurrent MCP
# clients (mcp-go's client over streamable HTTP, each its own session)
# calling an echo tool through
#   (a) direct:  an mcp-go server (upstream/) in a process of its own;
#   (b) facade:  the ALTAR facade of a Host (benchhost/) serving echo from an
#                in-process runtime;
#   (c) bridged: the same facade in front of (a) through the MCP bridge
#                (up.echo), the proxy shape users deploy;
# and, for (c), how many TCP connections (a) accepted while it was measured.
# Each round runs every configuration at each concurrency once; the table
# shows the medians over the rounds, and for the ratios against (a) the
# median of each round's own ratio (a noisy neighbour then hits both sides
# of a ratio alike). CPU us/call is each process's CPU time (user+system)
# per call while measured.
#
#   e2e/perf/mcpbench/run.sh [DURATION [ROUNDS]]   (default 5s, 3 rounds)
#
# UPSTREAM_PROCS, HOST_PROCS and CLIENT_PROCS set each process's GOMAXPROCS
# (default 2, the machine's cores); WARMUP the unmeasured time before each
# measurement (default 1s). HOST_CPUPROFILE=file profiles the Host.
set -euo pipefail
cd "$(dirname "$0")/../../.."
duration=${1:-5s}
rounds=${2:-3}
bin=$(mktemp -d)
host_pid=
# The Host first, so that its bridge says goodbye to a live upstream.
trap 'if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null; wait "$host_pid" 2>/dev/null; fi
      kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/upstream" ./e2e/perf/mcpbench/upstream
go build -o "$bin/benchhost" ./e2e/perf/mcpbench/benchhost
go build -o "$bin/load" ./e2e/perf/mcpbench/load

up_addr=127.0.0.1:28171
stats_addr=127.0.0.1:28172
host_addr=127.0.0.1:28181
GOMAXPROCS=${UPSTREAM_PROCS:-2} "$bin/upstream" --addr "$up_addr" --stats-addr "$stats_addr" &
up_pid=$!
sleep 0.3
GOMAXPROCS=${HOST_PROCS:-2} "$bin/benchhost" --http-addr "$host_addr" --upstream "http://$up_addr/mcp" \
  ${HOST_CPUPROFILE:+--cpuprofile "$HOST_CPUPROFILE"} &
host_pid=$!
# Wait until the Host serves the bridged tool.
for _ in $(seq 1 100); do
  if "$bin/load" --url "http://$host_addr/mcp" --tool up.echo -c 1 -d 50ms --warmup 0 >/dev/null 2>&1; then break; fi
  sleep 0.1
done

declare -A url=([a]="http://$up_addr/mcp" [b]="http://$host_addr/mcp" [c]="http://$host_addr/mcp")
declare -A tool=([a]=echo [b]=echo [c]=up.echo)
results=$bin/results
for r in $(seq 1 "$rounds"); do
  for n in 1 64; do
    for cfg in a b c; do
      out=$(GOMAXPROCS=${CLIENT_PROCS:-2} "$bin/load" --url "${url[$cfg]}" --tool "${tool[$cfg]}" -c "$n" -d "$duration" --warmup "${WARMUP:-1s}" \
        --stats-url "http://$stats_addr/stats" --cpu-pids "upstream=$up_pid,host=$host_pid")
      echo "round $r, ($cfg), $n clients: $out" >&2
      echo "$cfg $out" >>"$results"
    done
  done
done

/usr/bin/python3 - "$results" "${UPSTREAM_PROCS:-2}" "${HOST_PROCS:-2}" "${CLIENT_PROCS:-2}" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    cfg, js = line.split(" ", 1)
    r = json.loads(js)
    runs.setdefault((cfg, r["clients"]), []).append(r)
def med(cfg, n, k): return statistics.median(r[k] for r in runs[(cfg, n)])
def ratio(cfg, n, k): # the median of the rounds' own ratios against (a)
    return statistics.median(r[k] / a[k] for r, a in zip(runs[(cfg, n)], runs[("a", n)]))
names = {"a": "(a) mcp-go direct", "b": "(b) facade, in-process runtime", "c": "(c) facade -> bridge -> (a)"}
rounds = len(runs[("a", 1)])
print()
print(f"GOMAXPROCS: upstream {sys.argv[2]}, host {sys.argv[3]}, client {sys.argv[4]}; medians of {rounds} rounds")
print()
print("| configuration | clients | calls/s | vs (a) | p50 (us) | p50 vs (a) | p99 (us) | CPU us/call: client, Host, upstream | upstream conns accepted |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in (1, 64):
    for cfg in "abc":
        t, p50, p99 = med(cfg, n, "calls_per_second"), med(cfg, n, "p50_us"), med(cfg, n, "p99_us")
        tr, p50r = ratio(cfg, n, "calls_per_second"), ratio(cfg, n, "p50_us")
        conns = [r["upstream_conns"] for r in runs[(cfg, n)]]
        cpu = lambda p: statistics.median(r["cpu_us_per_call"][p] for r in runs[(cfg, n)])
        cpus = f"{cpu('load'):.0f}, {cpu('host'):.0f}, {cpu('upstream'):.0f}"
        print(f"| {names[cfg]} | {n} | {t:,.0f} | {tr:.2f}x | {p50:,.0f} | {p50r:.2f}x | {p99:,.0f} | {cpus} | {'/'.join(map(str, conns))} |")
print()
ok = lambda b: "met" if b else "MISSED"
b64, c64, c1 = ratio("b", 64, "calls_per_second"), ratio("c", 64, "calls_per_second"), ratio("c", 1, "p50_us")
print(f"target (b) >= 0.8x (a) calls/s at 64 clients: {b64:.2f}x {ok(b64 >= 0.8)}")
print(f"target (c) >= 0.5x (a) calls/s at 64 clients: {c64:.2f}x {ok(c64 >= 0.5)}")
print(f"target (c) <= 2x (a) p50 with 1 client:       {c1:.2f}x {ok(c1 <= 2)}")
# What the CPU alone allows, all processes sharing the machine's cores:
# throughput is inversely proportional to the CPU time a call costs in all
# processes together.
for cfg in "bc":
    tot = lambda c: sum(statistics.median(r["cpu_us_per_call"][p] for r in runs[(c, 64)]) for p in ("load", "host", "upstream"))
    print(f"CPU per call at 64 clients, all processes: ({cfg}) {tot(cfg):.0f} us against (a) {tot('a'):.0f} us: a CPU-bound ratio of {tot('a')/tot(cfg):.2f}x")
print(f"upstream connections accepted during each (c) run: 1 client {[r['upstream_conns'] for r in runs[('c', 1)]]}, 64 clients {[r['upstream_conns'] for r in runs[('c', 64)]]}")
PY
