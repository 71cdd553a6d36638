#!/usr/bin/env bash
# The three-process benchmark: client, Host and runtime as separate
# processes on loopback, as a deployment runs. In one run it times
#   (a) direct: the client calls the runtime's own HostService.Invoke;
#   (b) host:   the client calls the Host, which routes to the runtime over
#               its long-lived runtime stream;
# with 1 caller (latency) and 64 callers (throughput), and prints the ratios.
#
#   e2e/perf/three-process.sh [DURATION]     (default 10s per measurement)
#
# HOST_PROCS, RUNTIME_PROCS and CLIENT_PROCS set each process's GOMAXPROCS
# (default 2, the machine's cores); the same values serve both paths.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT

go build -o "$bin/altar" ./cmd/altar
go build -o "$bin/benchruntime" ./e2e/perf/benchruntime

host_addr=127.0.0.1:50151
direct_addr=127.0.0.1:50161
GOMAXPROCS=${HOST_PROCS:-2} "$bin/altar" serve --grpc-addr "$host_addr" --manifests manifests/calculator.yaml --log-level warn --no-example-runtime &
sleep 0.5
GOMAXPROCS=${RUNTIME_PROCS:-2} "$bin/benchruntime" --host "$host_addr" --direct-addr "$direct_addr" &
# Wait until the Host routes the tool.
for _ in $(seq 1 100); do
  if "$bin/altar" bench --addr "$host_addr" --count 1 --warmup 0 >/dev/null 2>&1; then break; fi
  sleep 0.1
done

run() { # target callers
  GOMAXPROCS=${CLIENT_PROCS:-2} "$bin/altar" bench --addr "$1" --tool subtract --args '{"a": 7, "b": 2}' -c "$2" -d "$duration" --warmup 2s -o json
}
echo "== direct, 1 caller";  d1=$(run "$direct_addr" 1);  echo "$d1"
echo "== host, 1 caller";    h1=$(run "$host_addr" 1);    echo "$h1"
echo "== direct, 64 callers"; d64=$(run "$direct_addr" 64); echo "$d64"
echo "== host, 64 callers";   h64=$(run "$host_addr" 64);   echo "$h64"

/usr/bin/python3 - "$d1" "$h1" "$d64" "$h64" <<'PY'
import json, sys
d1, h1, d64, h64 = (json.loads(a) for a in sys.argv[1:])
print()
print(f"{'':22}{'direct':>12}{'host':>12}{'host/direct':>14}")
print(f"{'1 caller p50 (us)':22}{d1['p50_us']:>12.0f}{h1['p50_us']:>12.0f}{h1['p50_us']/d1['p50_us']:>13.2f}x")
print(f"{'1 caller p99 (us)':22}{d1['p99_us']:>12.0f}{h1['p99_us']:>12.0f}{h1['p99_us']/d1['p99_us']:>13.2f}x")
print(f"{'64 callers calls/s':22}{d64['calls_per_second']:>12.0f}{h64['calls_per_second']:>12.0f}{h64['calls_per_second']/d64['calls_per_second']:>13.2f}x")
print(f"{'64 callers p50 (us)':22}{d64['p50_us']:>12.0f}{h64['p50_us']:>12.0f}{h64['p50_us']/d64['p50_us']:>13.2f}x")
print(f"{'64 callers p99 (us)':22}{d64['p99_us']:>12.0f}{h64['p99_us']:>12.0f}{h64['p99_us']/d64['p99_us']:>13.2f}x")
print(f"errors: direct {d1['errors']+d64['errors']}, host {h1['errors']+h64['errors']}")
PY
