#!/usr/bin/env bash
# litmus against lm-evaluation-harness on one workload, same prompts, same stops, same model.
#
# Usage: scripts/bench-peer.sh [--rounds N] [--prompts N] [--samples N] [--max-tokens N]
#                              [--threads N] [--np N] [--concurrent N] [--out DIR]
#        (each flag also reads from the environment: ROUNDS=3 scripts/bench-peer.sh)
#
# The workload: PROMPTS (24) built-in Python code cases (the `python::` cases tagged `starter` or
# `easy`, first PROMPTS by name; TAGS changes the tags) x SAMPLES (5) at TEMPERATURE (0.7), at most
# MAX_TOKENS (128) new tokens each, on MODEL (the default model, fetched by scripts/fetch-model.sh)
# with THREADS (2) threads. Each round runs, interleaved (odd rounds litmus first, even rounds
# lm-eval first):
#   litmus   the eval binary `cargo eval` builds, template `completion` (the signature and docstring
#            as raw text), in-process llama.cpp engine; every sample scored in the sandbox against
#            the case's examples and unit tests; each completion stops at the end of the function
#            (litmus's Python stop rule). Wall time of the whole process (model load included).
#   lm-eval  `lm-eval run --model local-completions` against llama.cpp's llama-server (started here
#            with the same model and threads, -np NP (32) slots, stopped after the run; its start-up
#            is not timed), NUM_CONCURRENT (32) requests in flight, a task generated from the litmus
#            run: the same prompt texts byte for byte (checked against lm-eval's logged requests),
#            the stop strings litmus sends to servers for Python completions (stop_sequences of
#            StopRule in crates/litmus-sandbox/src/stop.rs),
#            repeats SAMPLES, max_gen_toks MAX_TOKENS, temperature TEMPERATURE with sampling on,
#            llama.cpp's sampling defaults (top-k 40, top-p 0.95, min-p 0.05) as litmus uses them, a
#            random seed per request (lm-eval's one fixed seed would make the repeats one answer).
#            Generation only (--predict_only, no code execution). Wall time of the lm-eval process.
#   bound    the least time llama.cpp itself needs for litmus's work: generated tokens / S_TG +
#            prompt tokens (each distinct prompt once) / pp, with S_TG from
#            `llama-batched-bench -npp <mean prompt> -ntg MAX_TOKENS -npl <litmus's sequences>` and
#            pp from `llama-bench -p 512`, without weight repacking (as litmus runs), measured
#            right before and right after litmus's run in each round: the round's bound is the
#            mean of the two, and their ratio ("drift") shows how far the machine's own speed
#            moved while litmus ran (after / before; shared machines drift by tens of percent within
#            minutes).
#            A warm-up run of litmus before round 1 (not counted) gives the prompts, the mean
#            prompt length and litmus's number of sequences that the first measurement needs.
#   schedule (SCHEDULE=1; about 2 minutes more per round) the least time llama.cpp needs for
#            litmus's work *as the samples' lengths shape it*: the bound counts every generated
#            token at the full batch's rate, but sequences finish at different steps and the batch
#            empties. This bound replays litmus's generation step by step (every sample's
#            completion length from samples.jsonl, as many in flight as litmus's sequences, a
#            finished one's slot taken by the next) and charges each step llama.cpp's time per
#            step at that batch size (llama-batched-bench at 1, 2, 4, ... and litmus's sequences,
#            interpolated), plus the prompts at pp512's rate (measured after litmus's run).
# Generated tokens: litmus from its samples.jsonl usage; lm-eval from llama-server's /metrics.
# Prints one line per round, then the medians.
#
# Other settings (environment): TEMPERATURE, TAGS, MODEL, PARALLEL (litmus's sequences, default
# its own: every sample at once, up to 128), SEED (42), LLAMA_BIN (llama.cpp's tools; default: built by scripts/llama-tools.sh
# into ~/.cache/llama-reference/bin), VENV (the lm-eval virtual environment,
# created on first use; default ~/.cache/litmus-bench/venv), LM_EVAL_SPEC (what pip installs
# there: "lm-eval[api]==0.4.13"), SERVER_ARGS (more llama-server arguments), PEER_ONLY=1 (only the
# lm-eval side, on the prompts of the previous run in OUT: for tuning NP and NUM_CONCURRENT),
# LITMUS_ONLY=1 (only the litmus side, no llama.cpp tools or lm-eval needed: for before/after
# measurements; with EXES="BIN1 BIN2 ..." each round runs each of these eval binaries, e.g. copies
# of target/release/deps/evals-* built from two trees, in turn, reversed in even rounds, and prints
# each run's wall, generation, scoring and tail times, score and a hash of the answers).
# Results and logs go to OUT (default: $CARGO_TARGET_DIR or target, then /bench-peer).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "bench-peer: $*" >&2; exit 1; }
log() { echo "bench-peer: $*" >&2; }

ROUNDS=${ROUNDS:-1}
PROMPTS=${PROMPTS:-24}
SAMPLES=${SAMPLES:-5}
MAX_TOKENS=${MAX_TOKENS:-128}
THREADS=${THREADS:-2}
NP=${NP:-32}
NUM_CONCURRENT=${NUM_CONCURRENT:-${CONCURRENT:-32}}
OUT=${OUT:-${CARGO_TARGET_DIR:-$root/target}/bench-peer}
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --prompts) PROMPTS=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    --max-tokens) MAX_TOKENS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --np) NP=$2; shift 2 ;;
    --concurrent) NUM_CONCURRENT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
TEMPERATURE=${TEMPERATURE:-0.7}
TAGS=${TAGS:-starter,easy}
SEED=${SEED:-42}
PARALLEL=${PARALLEL:-}
SERVER_ARGS=${SERVER_ARGS:-}
PEER_ONLY=${PEER_ONLY:-0}
LITMUS_ONLY=${LITMUS_ONLY:-0}
EXES=${EXES:-}
[[ $PEER_ONLY != 1 || $LITMUS_ONLY != 1 ]] || die "PEER_ONLY=1 and LITMUS_ONLY=1 exclude each other"
[[ -z $EXES || $LITMUS_ONLY == 1 ]] || die "EXES needs LITMUS_ONLY=1"
SCHEDULE=${SCHEDULE:-0}
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/litmus-bench/venv}
LM_EVAL_SPEC=${LM_EVAL_SPEC:-lm-eval[api]==0.4.13}
for v in ROUNDS PROMPTS SAMPLES MAX_TOKENS THREADS NP NUM_CONCURRENT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ -z $PARALLEL || $PARALLEL =~ ^[1-9][0-9]*$ ]] || die "PARALLEL must be a positive integer"

# --- Prerequisites -------------------------------------------------------------------------------
for t in python3 curl; do command -v "$t" >/dev/null || die "needs $t on PATH"; done
if [[ $PEER_ONLY != 1 ]]; then
  command -v cargo >/dev/null || die "needs cargo (https://rustup.rs), then: bash scripts/setup.sh"
  command -v bwrap >/dev/null || die "needs bubblewrap for litmus's sandbox: bash scripts/setup.sh"
fi
if [[ $LITMUS_ONLY != 1 ]]; then
  LLAMA_BIN=${LLAMA_BIN:-$(bash "$root/scripts/llama-tools.sh" | tail -n 1)}
  for t in llama-server llama-batched-bench llama-bench; do
    [[ -x $LLAMA_BIN/$t ]] || die "no $LLAMA_BIN/$t: build llama.cpp's tools with scripts/llama-tools.sh, or set LLAMA_BIN to their folder"
  done
fi
MODEL=${MODEL:-$(bash "$root/scripts/fetch-model.sh" | tail -n 1)}
[[ -f $MODEL ]] || die "model $MODEL not found"
MODEL=$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")
# litmus keeps llama.cpp's weights unrepacked by default; the reference tools follow it. llama-server
# keeps its own default (repacking) except on AMX CPUs, where repacking crashes (llama.cpp#20824).
amx=()
if grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then amx=(--no-repack); fi

# The lm-eval environment, created on first use.
if [[ $LITMUS_ONLY != 1 ]]; then
  if [[ ! -x $VENV/bin/lm-eval ]]; then
    log "creating $VENV with $LM_EVAL_SPEC (first use)"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet "$LM_EVAL_SPEC" || die "pip install $LM_EVAL_SPEC failed"
  fi
  lm_eval_version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("lm_eval"))') ||
    die "lm_eval is not importable in $VENV (remove it to recreate)"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
task_dir=$OUT/task
prompts_file=$task_dir/prompts.jsonl
mkdir -p "$task_dir"
results=$OUT/rounds.tsv

# The timed runs go to the background and are waited for, so that an interrupt stops them (and the
# server) at once instead of after them.
child=""
run_child() {
  "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return "$rc"
}
server_pid=""
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  if [[ -n $child ]]; then kill "$child" 2>/dev/null || true; fi
  stop_server
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# --- The litmus side -------------------------------------------------------------------------------
if [[ $PEER_ONLY != 1 ]]; then
  log "building the eval binary (cargo test --no-run --release -p litmus-evals --test evals)"
  exe=$(cd "$root" && cargo test --no-run --release -p litmus-evals --test evals \
    --message-format=json-render-diagnostics | python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "evals" and m.get("executable"):
        exe = m["executable"]
print(exe or "")')
  [[ -n $exe && -x $exe ]] || die "cargo built no eval binary"
  target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  mapfile -t cases < <(cd "$root/evals" && CARGO_TARGET_DIR=$target_dir "$exe" --list --tag "$TAGS" |
    sed -n 's/^\(python::[A-Za-z0-9_]*\): test$/\1/p' | sort | head -n "$PROMPTS")
  [[ ${#cases[@]} -eq $PROMPTS ]] || die "only ${#cases[@]} Python cases tagged $TAGS (asked for $PROMPTS; set TAGS)"
  cat >"$OUT/litmus.toml" <<EOF
# Written by scripts/bench-peer.sh.
[run]
models = ["bench"]

[models.bench]
backend = "llama"
source = "$MODEL"
threads = $THREADS
${PARALLEL:+parallel = $PARALLEL}
EOF
fi

run_litmus() {  # $1: run name (the round); $2: eval binary (default: the one built); sets mw (wall seconds)
  local dir=$OUT/litmus-$1 t0 t1 rc=0
  rm -rf "$dir"
  t0=$(date +%s.%N)
  run_child env -C "$root/evals" CARGO_TARGET_DIR="$target_dir" "${2:-$exe}" "${cases[@]}" --exact \
    --config "$OUT/litmus.toml" --template completion --temperature "$TEMPERATURE" \
    --samples "$SAMPLES" --max-tokens "$MAX_TOKENS" --seed "$SEED" --no-cache --no-snapshots \
    --output-dir "$dir" --summary-json "$dir/summary.json" --color never --quiet \
    >"$OUT/litmus-$1.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  # 3: some eval scored below its min_score, which is a score, not a failed run.
  if [[ $rc != 0 && $rc != 3 ]]; then
    tail -n 20 "$OUT/litmus-$1.log" >&2
    die "litmus exited with $rc (log $OUT/litmus-$1.log)"
  fi
  mw=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# litmus's run: tokens, prompts (written for lm-eval), errors, score, where its time went and a
# hash of its answers. Prints "generated prompt_distinct mean_prompt samples errors score
# generation_s scoring_s scoring_tail_s answers".
litmus_stats() {  # $1: round; $2: write the prompts file (1/0)
  python3 - "$OUT/litmus-$1" "$2" "$prompts_file" "$task_dir/meta" <<'PY'
import glob, hashlib, json, sys
run_dir, write, prompts_file, meta = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
files = glob.glob(f"{run_dir}/runs/*/samples.jsonl")
if len(files) != 1:
    sys.exit(f"bench-peer: expected one samples.jsonl under {run_dir}/runs, found {len(files)}")
gen = errors = n = 0
prompts = {}
answers = []
for line in open(files[0], encoding="utf-8"):
    s = json.loads(line)
    n += 1
    answers.append(f"{s['eval']}\x00{s['sample']}\x00{s['response']}")
    gen += s["usage"]["completion_tokens"]
    errors += s["error"] is not None
    p = (s.get("prompt") or {}).get("completion")
    if p is None:
        sys.exit(f"bench-peer: {s['eval']}: not a completion prompt: {s.get('prompt')!r}")
    old = prompts.setdefault(s["eval"], (p, s["usage"]["prompt_tokens"]))
    if old[0] != p:
        sys.exit(f"bench-peer: {s['eval']}: samples with different prompts")
ptoks = sum(t for _, t in prompts.values())
if write:
    with open(prompts_file, "w", encoding="utf-8") as f:
        for name in sorted(prompts):
            f.write(json.dumps({"eval": name, "prompt": prompts[name][0]}, ensure_ascii=False) + "\n")
    with open(meta, "w") as f:  # the longest prompt in tokens, for llama-server's slot size
        print(max(t for _, t in prompts.values()), file=f)
summary = json.load(open(f"{run_dir}/summary.json"))
score = summary["configs"][0]["score"]["mean"] if summary["configs"] else float("nan")
t = summary["time"]
digest = hashlib.sha256("\x01".join(sorted(answers)).encode()).hexdigest()[:10]
print(gen, ptoks, round(ptoks / max(len(prompts), 1)), n, errors, f"{score:.1f}",
      f"{t['generation_secs']:.2f} {t['scoring_secs']:.2f} {t['scoring_tail_secs']:.2f}", digest)
PY
}

# --- The lm-eval side ----------------------------------------------------------------------------
write_task() {
  mkdir -p "$task_dir"
  python3 - "$task_dir" "$prompts_file" "$SAMPLES" "$MAX_TOKENS" "$TEMPERATURE" <<'PY'
import json, sys
task_dir, prompts_file, samples, max_tokens, temperature = sys.argv[1:]
# The stop strings litmus sends to servers for a Python completion (StopRule::stop_sequences in
# crates/litmus-sandbox/src/stop.rs).
until = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n@"]
task = {
    "task": "litmus_peer",
    "dataset_path": "json",
    "dataset_kwargs": {"data_files": {"test": prompts_file}},
    "test_split": "test",
    "output_type": "generate_until",
    "doc_to_text": "prompt",
    "doc_to_target": "",
    "repeats": int(samples),
    "generation_kwargs": {
        "until": until,
        "max_gen_toks": int(max_tokens),
        "do_sample": True,
        "temperature": float(temperature),
        # llama.cpp's sampling defaults, which litmus uses (explicit, in case the server's differ).
        "top_k": 40,
        "top_p": 0.95,
        "min_p": 0.05,
        # lm-eval sends one fixed seed with every request, which would make the SAMPLES repeats of
        # a prompt the same answer; -1 asks llama-server for a random seed per request, so that
        # they are independent samples, as litmus's are (it seeds each sample differently).
        "seed": -1,
    },
    "metric_list": [{"metric": "bypass"}],
    "metadata": {"version": 1.0},
}
# JSON is YAML.
with open(f"{task_dir}/litmus_peer.yaml", "w") as f:
    json.dump(task, f, indent=2)
PY
}


start_server() {  # $1: round; sets $port
  local p ctx
  port=""
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
  [[ -n $port ]] || die "no free port"
  # Each slot holds a prompt and its answer: the longest prompt + MAX_TOKENS, rounded up.
  ctx=$(( (($(cat "$task_dir/meta") + MAX_TOKENS + 16 + 255) / 256) * 256 ))
  # shellcheck disable=SC2086
  "$LLAMA_BIN/llama-server" -m "$MODEL" --host 127.0.0.1 --port "$port" -t "$THREADS" \
    -np "$NP" -c $((ctx * NP)) --metrics "${amx[@]}" $SERVER_ARGS >"$OUT/server-$1.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 1200); do
    kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$OUT/server-$1.log" >&2; server_pid=""; die "llama-server exited (log $OUT/server-$1.log)"; }
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health") == 200 ]] && return 0
    sleep 0.1
  done
  die "llama-server not ready after 120 s (log $OUT/server-$1.log)"
}

server_tokens() {  # prints "prompt_tokens generated_tokens" from /metrics
  curl -sf "http://127.0.0.1:$port/metrics" | awk '
    $1 == "llamacpp:prompt_tokens_total" { p = $2 }
    $1 == "llamacpp:tokens_predicted_total" { g = $2 }
    END { if (p == "" || g == "") exit 1; printf "%d %d\n", p, g }' || die "no token counters in llama-server's /metrics"
}

run_lm_eval() {  # $1: round; sets lw le lg lp (wall and evaluation seconds, generated and prompt tokens)
  local dir=$OUT/lm-eval-$1 before after t0 t1 p0 g0 p1 g1
  rm -rf "$dir"
  start_server "$1"
  before=$(server_tokens)
  t0=$(date +%s.%N)
  run_child env HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 HF_DATASETS_CACHE="$OUT/hf-datasets" \
    "$VENV/bin/lm-eval" run --model local-completions \
    --model_args "model=$(basename "$MODEL"),base_url=http://127.0.0.1:$port/v1/completions,num_concurrent=$NUM_CONCURRENT,max_retries=3,tokenizer_backend=none,timeout=3600,seed=$SEED" \
    --tasks litmus_peer --include_path "$task_dir" --predict_only --log_samples \
    --output_path "$dir" --seed "$SEED" >"$OUT/lm-eval-$1.log" 2>&1 ||
    { tail -n 30 "$OUT/lm-eval-$1.log" >&2; die "lm-eval failed (log $OUT/lm-eval-$1.log)"; }
  t1=$(date +%s.%N)
  after=$(server_tokens)
  stop_server
  # The requests lm-eval made must be the litmus prompts, byte for byte, SAMPLES answers each.
  python3 - "$dir" "$prompts_file" "$SAMPLES" <<'PY' || die "lm-eval's requests differ from litmus's prompts"
import glob, json, sys
out, prompts_file, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = sorted(json.loads(l)["prompt"] for l in open(prompts_file, encoding="utf-8"))
files = glob.glob(f"{out}/**/samples_litmus_peer_*.jsonl", recursive=True)
if len(files) != 1:
    sys.exit(f"bench-peer: expected one samples_litmus_peer_*.jsonl under {out}, found {len(files)}")
got, answers = [], 0
for line in open(files[0], encoding="utf-8"):
    s = json.loads(line)
    got.append(s["arguments"]["gen_args_0"]["arg_0"])
    answers += len(s["resps"][0]) if s["resps"] and isinstance(s["resps"][0], list) else len(s["resps"])
if sorted(got) != want:
    sys.exit(f"bench-peer: lm-eval sent {len(got)} prompts, not the {len(want)} litmus prompts byte for byte")
if answers != samples * len(want):
    sys.exit(f"bench-peer: lm-eval returned {answers} answers, expected {samples * len(want)}")
PY
  read -r p0 g0 <<<"$before"
  read -r p1 g1 <<<"$after"
  lw=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  # lm-eval's own timer: from the start of the evaluation (after its imports) to the results.
  le=$(python3 -c 'import glob, json, sys; print("%.3f" % float(json.load(open(glob.glob(sys.argv[1] + "/**/results_*.json", recursive=True)[0]))["total_evaluation_time_seconds"]))' "$dir") ||
    die "no total_evaluation_time_seconds in lm-eval's results (under $dir)"
  lg=$((g1 - g0))
  lp=$((p1 - p0))
}

# --- The bound -----------------------------------------------------------------------------------
measure_bound() {  # $1: label of the logs; $2: litmus's run (its sequences, its samples' lengths);
                   # $3: 1 to measure the schedule bound too (SCHEDULE=1). Sets s_tg pp npl schedule_s
  local out run_dir=$2
  # litmus's sequences: PARALLEL, else what its run says it used (its default follows the workload).
  npl=${PARALLEL:-$(python3 -c 'import glob, json, sys; print(json.load(open(glob.glob(sys.argv[1] + "/runs/*/summary.json")[0]))["configs"][0]["model"]["sequences"])' "$run_dir" 2>/dev/null || echo 32)}
  if (( npl > PROMPTS * SAMPLES )); then npl=$((PROMPTS * SAMPLES)); fi
  out=$("$LLAMA_BIN/llama-batched-bench" -m "$MODEL" -t "$THREADS" \
    -c $(( npl * ((mean_prompt + MAX_TOKENS + 256) / 256) * 256 )) -b 2048 -ub 512 \
    -npp "$mean_prompt" -ntg "$MAX_TOKENS" -npl "$npl" --no-repack --output-format jsonl \
    2>"$OUT/batched-bench-$1.log") || die "llama-batched-bench failed (log $OUT/batched-bench-$1.log)"
  s_tg=$(python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if l.startswith("{")][-1]["speed_tg"])' <<<"$out") ||
    die "no S_TG in llama-batched-bench's output (log $OUT/batched-bench-$1.log)"
  schedule_s=""
  if [[ $3 == 1 ]]; then
    local npls="" n
    for n in 1 2 4 8 16 32 64; do if (( n < npl )); then npls+="${npls:+,}$n"; fi; done
    out=""
    if [[ -n $npls ]]; then
      out=$("$LLAMA_BIN/llama-batched-bench" -m "$MODEL" -t "$THREADS" \
        -c $(( npl * ((mean_prompt + MAX_TOKENS + 256) / 256) * 256 )) -b 2048 -ub 512 \
        -npp "$mean_prompt" -ntg "$MAX_TOKENS" -npl "$npls" --no-repack --output-format jsonl \
        2>"$OUT/batched-bench-schedule-$1.log") || die "llama-batched-bench failed (log $OUT/batched-bench-schedule-$1.log)"
    fi
    out+=$'\n'"{\"pl\": $npl, \"t_tg\": $(awk -v s="$s_tg" -v n="$npl" -v t="$MAX_TOKENS" 'BEGIN { print n * t / s }')}"
    printf '%s\n' "$out" >"$OUT/schedule-steps-$1.jsonl"
    schedule_s=$(python3 - "$run_dir" "$npl" "$MAX_TOKENS" "$OUT/schedule-steps-$1.jsonl" <<'PY'
import bisect, glob, json, sys
run_dir, slots, ntg, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# Seconds per generation step at each measured batch size.
step = dict(sorted((d["pl"], d["t_tg"] / ntg) for d in (json.loads(l) for l in open(steps) if l.startswith("{"))))
xs, ys = list(step), list(step.values())
def at(b):  # linear between the measured batch sizes
    if b <= xs[0]:
        return ys[0]
    if b >= xs[-1]:
        return ys[-1] * b / xs[-1]
    i = bisect.bisect_left(xs, b)
    if xs[i] == b:
        return ys[i]
    return ys[i - 1] + (ys[i] - ys[i - 1]) * (b - xs[i - 1]) / (xs[i] - xs[i - 1])
lengths = [json.loads(l)["usage"]["completion_tokens"]
           for l in open(glob.glob(f"{run_dir}/runs/*/samples.jsonl")[0], encoding="utf-8")]
# Replay: up to `slots` sequences in flight; each step gives every one a token.
queue, running, t = list(lengths), [], 0.0
while queue or running:
    while queue and len(running) < slots:
        left = queue.pop(0)
        if left > 0:
            running.append(left)
    if not running:
        continue
    t += at(len(running))
    running = [r - 1 for r in running if r > 1]
print(f"{t:.3f}")
PY
) || die "computing the schedule bound failed"
  fi
  out=$("$LLAMA_BIN/llama-bench" -m "$MODEL" -t "$THREADS" -p 512 -n 0 -r 3 --repack 0 -o jsonl \
    2>"$OUT/llama-bench-$1.log") || die "llama-bench failed (log $OUT/llama-bench-$1.log)"
  pp=$(python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if l.startswith("{")][-1]["avg_ts"])' <<<"$out") ||
    die "no pp512 in llama-bench's output (log $OUT/llama-bench-$1.log)"
}

# --- Rounds --------------------------------------------------------------------------------------
if [[ $PEER_ONLY == 1 ]]; then
  [[ -f $prompts_file && -f $task_dir/meta ]] || die "PEER_ONLY=1 needs $prompts_file from an earlier run with the same OUT"
  PROMPTS=$(wc -l <"$prompts_file")
  write_task
fi
echo "# bench-peer $(date '+%F %T'): $PROMPTS prompts x $SAMPLES samples, t=$TEMPERATURE, at most $MAX_TOKENS tokens, $THREADS threads, $(basename "$MODEL")"
[[ $LITMUS_ONLY == 1 ]] || echo "# lm-eval $lm_eval_version (local-completions, num_concurrent=$NUM_CONCURRENT) on llama-server -np $NP${amx[*]:+ ${amx[*]}}${SERVER_ARGS:+ $SERVER_ARGS}; litmus sequences: ${PARALLEL:-default}"
[[ $PEER_ONLY == 1 ]] || echo "# cases (python::, tags $TAGS): ${cases[*]#python::}"
if [[ $LITMUS_ONLY == 1 ]]; then
  read -r -a exes <<<"${EXES:-$exe}"
  for b in "${exes[@]}"; do [[ -x $b ]] || die "EXES: $b is not an executable"; done
  for i in "${!exes[@]}"; do echo "# binary $((i + 1)): ${exes[i]}"; done
  printf 'round\tbinary\tload\twall_s\tgeneration_s\tscoring_s\tscoring_tail_s\tgenerated\tscore\tanswers\n' >"$OUT/litmus-only.tsv"
  for r in $(seq 1 "$ROUNDS"); do
    order=($(seq 1 "${#exes[@]}"))
    if (( r % 2 == 0 )); then order=($(printf '%s\n' "${order[@]}" | tac)); fi
    for i in "${order[@]}"; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      run_litmus "$r-$i" "${exes[i - 1]}"
      stats=$(litmus_stats "$r-$i" 0) || die "reading litmus's results failed"
      read -r mg mp mean_prompt ms me score gen_s scoring_s tail_s answers <<<"$stats"
      printf 'round %d, binary %d (load %s): %.1f s | generation %.1f s, scoring %.1f s (%.1f s after the last answer) | %d generated tokens, score %s, answers %s\n' \
        "$r" "$i" "$load" "$mw" "$gen_s" "$scoring_s" "$tail_s" "$mg" "$score" "$answers"
      printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$i" "$load" "$mw" "$gen_s" "$scoring_s" "$tail_s" \
        "$mg" "$score" "$answers" >>"$OUT/litmus-only.tsv"
    done
  done
  python3 - "$OUT/litmus-only.tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for b in sorted({r["binary"] for r in rows}, key=int):
    mine = [r for r in rows if r["binary"] == b]
    med = lambda k: statistics.median(float(r[k]) for r in mine)
    print(f"binary {b}, median of {len(mine)}: {med('wall_s'):.1f} s, generation {med('generation_s'):.1f} s, "
          f"scoring {med('scoring_s'):.1f} s, answers {' '.join(sorted({r['answers'] for r in mine}))}")
print(f"(per-run figures: {sys.argv[1]})")
PY
  exit 0
fi
printf 'round\tload\tlitmus_s\tlitmus_gen\tlitmus_prompt\tscore\tlmeval_s\tlmeval_eval_s\tlmeval_gen\tlmeval_prompt\tratio\ts_tg_before\ts_tg_after\tpp_before\tpp_after\tnpl\tbound_before_s\tbound_after_s\tbound_s\tdrift\tlitmus_over_bound\tschedule_s\tlitmus_over_schedule\n' >"$results"
if [[ $PEER_ONLY != 1 ]]; then
  # The warm-up: the prompts for lm-eval's task, and what the first bound measurement needs.
  log "warm-up run of litmus (not counted)"
  run_litmus 0
  stats=$(litmus_stats 0 1) || die "reading litmus's results failed"
  read -r mg mp mean_prompt ms me score _ _ _ answers0 <<<"$stats"
  [[ $ms == $((PROMPTS * SAMPLES)) ]] || die "litmus recorded $ms samples, expected $((PROMPTS * SAMPLES))"
  write_task
fi
for r in $(seq 1 "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [[ $PEER_ONLY == 1 ]]; then
    run_lm_eval "$r"
    printf 'round %d (load %s): lm-eval %.1f s (evaluation %.1f s), %d generated tokens (%.1f t/s), %d prompt tokens\n' \
      "$r" "$load" "$lw" "$le" "$lg" "$(awk -v g="$lg" -v w="$lw" 'BEGIN { print g / w }')" "$lp"
    printf '%d\t%s\t\t\t\t\t%s\t%s\t%s\t%s' "$r" "$load" "$lw" "$le" "$lg" "$lp" >>"$results"
    printf '\t%.0s' {1..13} >>"$results"
    printf '\n' >>"$results"
    continue
  fi
  # Odd rounds run litmus first, even rounds lm-eval first; the bound is measured right before
  # and right after litmus's run.
  order=(litmus lm-eval)
  if (( r % 2 == 0 )); then order=(lm-eval litmus); fi
  for side in "${order[@]}"; do
    if [[ $side == litmus ]]; then
      measure_bound "$r-before" "$OUT/litmus-0" 0
      tg_b=$s_tg pp_b=$pp
      run_litmus "$r"
      stats=$(litmus_stats "$r" 0) || die "reading litmus's results failed"
      read -r mg mp mean_prompt ms me score _ _ _ answers <<<"$stats"
      [[ $me == 0 ]] || log "round $r: $me of $ms litmus samples errored (see $OUT/litmus-$r.log)"
      [[ $ms == $((PROMPTS * SAMPLES)) ]] || die "litmus recorded $ms samples, expected $((PROMPTS * SAMPLES))"
      [[ $answers == "$answers0" ]] || log "round $r: litmus's answers differ from the warm-up run's ($answers, $answers0)"
      measure_bound "$r-after" "$OUT/litmus-$r" "$SCHEDULE"
      tg_a=$s_tg pp_a=$pp
    else
      run_lm_eval "$r"
    fi
  done
  read -r ratio bound_b bound_a bound drift over <<<"$(awk -v mw="$mw" -v mg="$mg" -v mp="$mp" -v lw="$lw" \
    -v sb="$tg_b" -v sa="$tg_a" -v pb="$pp_b" -v pa="$pp_a" 'BEGIN {
    b = mg / sb + mp / pb; a = mg / sa + mp / pa; bound = (a + b) / 2
    printf "%.3f %.3f %.3f %.3f %.3f %.3f", lw / mw, b, a, bound, a / b, mw / bound }')"
  sched="" sched_over=""
  if [[ -n $schedule_s ]]; then
    read -r sched sched_over <<<"$(awk -v mw="$mw" -v g="$schedule_s" -v mp="$mp" -v pp="$pp_a" 'BEGIN {
      b = g + mp / pp; printf "%.3f %.3f", b, mw / b }')"
  fi
  printf 'round %d (load %s): litmus %.1f s (%d generated, %d prompt tokens, score %s) | lm-eval %.1f s (evaluation %.1f s; %d generated, %d prompt tokens) | lm-eval/litmus %.2fx | bound %.1f s (before litmus %.1f s: S_TG %.1f t/s at %d seqs, pp512 %.1f t/s; after %.1f s: %.1f, %.1f t/s; drift %.2f), litmus/bound %.2fx%s\n' \
    "$r" "$load" "$mw" "$mg" "$mp" "$score" "$lw" "$le" "$lg" "$lp" "$ratio" "$bound" "$bound_b" "$tg_b" "$npl" "$pp_b" \
    "$bound_a" "$tg_a" "$pp_a" "$drift" "$over" \
    "${sched:+ | schedule bound (after) $(printf '%.1f' "$sched") s, litmus/schedule bound $(printf '%.2f' "$sched_over")x}"
  printf '%s\t' "$r" "$load" "$mw" "$mg" "$mp" "$score" "$lw" "$le" "$lg" "$lp" "$ratio" "$tg_b" "$tg_a" "$pp_b" "$pp_a" \
    "$npl" "$bound_b" "$bound_a" "$bound" "$drift" "$over" "$sched" >>"$results"
  printf '%s\n' "$sched_over" >>"$results"
done

python3 - "$results" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(k):
    v = [float(r[k]) for r in rows if r[k]]
    return statistics.median(v) if v else None
cols = [("litmus_s", "litmus wall s", "%.1f"), ("litmus_gen", "litmus generated", "%.0f"),
        ("lmeval_s", "lm-eval wall s", "%.1f"), ("lmeval_eval_s", "lm-eval evaluation s", "%.1f"),
        ("lmeval_gen", "lm-eval generated", "%.0f"),
        ("ratio", "lm-eval/litmus", "%.2fx"), ("bound_s", "bound s", "%.1f"), ("drift", "drift", "%.2f"),
        ("litmus_over_bound", "litmus/bound", "%.2fx"), ("schedule_s", "schedule bound s", "%.1f"),
        ("litmus_over_schedule", "litmus/schedule bound", "%.2fx")]
parts = [f"{label} {fmt % med(k)}" for k, label, fmt in cols if med(k) is not None]
print(f"median of {len(rows)} round(s): " + ", ".join(parts))
print(f"(per-round figures: {sys.argv[1]})")
PY
