#!/usr/bin/env bash
# Instructions the proxy executes per non-streamed request, counted by callgrind.
#
# Unlike req/s and CPU time, the count does not depend on what else the machine is doing,
# so two binaries can be compared on a busy machine (docs/performance.md). It covers every
# thread of llmroute-server (request path, log line, SQLite writer), not the kernel.
#
# Usage: bench/scripts/instructions.sh SERVER_BIN FAKE_AZURE_BIN [REQUESTS] [SCRATCH_DIR]
#   STREAM=1 in the environment: streamed requests (100 chunks each) instead of whole ones
#   SERVER_BIN: e.g. target/profiling/llmroute-server (cargo build --profile profiling)
#   FAKE_AZURE_BIN: target/release/fake_azure (cargo build --release -p llmroute-azure --features fake --bin fake_azure)
set -euo pipefail
server=$1; fake=$2; n=${3:-1000}; out=${4:-$(mktemp -d /tmp/llmroute-instr.XXXXXX)}
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
mkdir -p "$out"
fport=$(free_port); sport=$(free_port)
"$fake" --port "$fport" --deployment gpt-4o --api-key fake-azure-key --chunks 100 >"$out/fake.log" 2>&1 &
fpid=$!
sed -e "s#@UPSTREAM@#http://127.0.0.1:$fport#" -e 's#@DATABASE@##' -e 's#@CACHE@##' -e 's#@REDIS@##' \
  "$root/bench/configs/llmroute.yaml" >"$out/cfg.yaml"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out" \
  "$server" --config "$out/cfg.yaml" --host 127.0.0.1 --port "$sport" --data-dir "$out/data" >"$out/server.log" 2>&1 &
spid=$!
trap 'kill $spid $fpid 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf "127.0.0.1:$sport/health" >/dev/null 2>&1 && break; sleep 0.2; done
requests() {
  python3 - "$sport" "$1" "${STREAM:-0}" <<'PY'
import http.client, json, sys
port, n, stream = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
c = http.client.HTTPConnection("127.0.0.1", port)
body = json.dumps({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "Say hello in one short sentence."}]})
for _ in range(n):
    c.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer sk-bench-master-key", "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}
requests 50                                   # warm up: connections, caches, first allocations
callgrind_control -i on "$spid" >/dev/null
requests "$n"
sleep 1.5                                     # the batched log writer flushes inside the window
callgrind_control -i off "$spid" >/dev/null
kill -TERM "$spid"; wait "$spid" || true
total=$(callgrind_annotate "$out/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
echo "$n $([ "${STREAM:-0}" = 1 ] && echo streamed) requests: $total instructions, $((total / n)) per request (profile: $out/callgrind.out)"
