#!/usr/bin/env bash
# Starts llama.cpp's llama-server on loopback for litmus's HTTP-backend tests and benches.
#
# Usage: scripts/llama-server.sh [--build-only] [-m MODEL.gguf] [-p PORT] [-- EXTRA llama-server ARGS]
#
# - Makes sure the llama-server binary exists: $LLAMA_SERVER_BIN if set, else the one built by
#   scripts/llama-tools.sh (the first time, about 6 minutes on 2 cores) into
#   ~/.cache/llama-reference/bin.
# - Starts `llama-server -m MODEL --host 127.0.0.1 --port PORT -t 2 -c 4096 -np 4` in the background
#   (4 parallel slots), waits until /health answers 200, and prints the port on stdout (last line).
# - MODEL defaults to $LITMUS_TEST_MODEL, else ~/.cache/litmus/models/gemma-3-270m-q4_k_m.gguf,
#   else /tmp/model/gemma-3-270m-q4_k_m.gguf. PORT defaults to a free one.
# - The server's pid goes to $LLAMA_SERVER_PIDFILE (default /tmp/llama-server-PORT.pid), its log to
#   /tmp/llama-server-PORT.log. Stop it with: kill "$(cat /tmp/llama-server-PORT.pid)".
# - --build-only: only make sure the binary exists and print its path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build_only=0
model=""
port=""
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-only) build_only=1; shift ;;
    -m|--model) model=$2; shift 2 ;;
    -p|--port) port=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "llama-server.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# 1. The binary.
if [[ -n ${LLAMA_SERVER_BIN:-} ]]; then
  bin=$LLAMA_SERVER_BIN
  [[ -x $bin ]] || { echo "llama-server.sh: LLAMA_SERVER_BIN=$bin is not executable" >&2; exit 1; }
else
  bindir=$(bash "$repo/scripts/llama-tools.sh" | tail -n 1)
  bin=$bindir/llama-server
  [[ -x $bin ]] || { echo "llama-server.sh: scripts/llama-tools.sh did not produce $bin" >&2; exit 1; }
fi
if [[ $build_only == 1 ]]; then echo "$bin"; exit 0; fi

# 2. The model.
if [[ -z $model ]]; then
  for candidate in "${LITMUS_TEST_MODEL:-}" "$HOME/.cache/litmus/models/gemma-3-270m-q4_k_m.gguf" /tmp/model/gemma-3-270m-q4_k_m.gguf; do
    if [[ -n $candidate && -f $candidate ]]; then model=$candidate; break; fi
  done
fi
[[ -n $model && -f $model ]] || { echo "llama-server.sh: no model (pass -m or set LITMUS_TEST_MODEL)" >&2; exit 1; }

# 3. A free loopback port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -z $port ]]; then
  for _ in $(seq 1 100); do
    candidate=$((20000 + RANDOM % 30000))
    if ! port_in_use "$candidate"; then port=$candidate; break; fi
  done
  [[ -n $port ]] || { echo "llama-server.sh: no free port found" >&2; exit 1; }
elif port_in_use "$port"; then
  echo "llama-server.sh: port $port is already in use" >&2; exit 1
fi

# 4. Start and wait for /health.
log=/tmp/llama-server-$port.log
pidfile=${LLAMA_SERVER_PIDFILE:-/tmp/llama-server-$port.pid}
# On CPUs with AMX, llama.cpp's AMX matrix kernel crashes at the first decode
# of a Q4_K_M model (ggml-org/llama.cpp#20824): keep the weights unrepacked.
amx=()
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then amx=(--no-repack); fi
nohup "$bin" -m "$model" --host 127.0.0.1 --port "$port" -t 2 -c 4096 -np 4 "${amx[@]}" "${extra[@]}" >"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
health() {
  if command -v curl >/dev/null; then
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health") == 200 ]]
  else
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    local status; read -r _ status _ <&3; exec 3<&-
    [[ $status == 200 ]]
  fi
}
for _ in $(seq 1 1200); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "llama-server.sh: llama-server exited; last lines of $log:" >&2; tail -n 20 "$log" >&2; exit 1
  fi
  if health 2>/dev/null; then
    echo "llama-server.sh: pid $pid serving $model on http://127.0.0.1:$port (log $log; stop: kill \$(cat $pidfile))" >&2
    echo "$port"
    exit 0
  fi
  sleep 0.1
done
echo "llama-server.sh: /health not ready after 120 s; see $log" >&2
kill "$pid" 2>/dev/null || true
exit 1
