# litmus bash driver (protocol: src/lang/driver.rs).
#
# Parse check with `bash -n`; the solution is loaded (sourced) and every
# snippet runs in a fresh `bash` process under `timeout -s KILL`, with fd 3
# closed and stdin at /dev/null. The nonce is a non-exported variable of
# this shell, not passed to snippet processes. A run counts as passed only
# when its shell got to the end of it (after the snippet) and said so on fd
# 4 with a token of the run: an `exit 0` in the solution ends the shell
# before the snippet runs, which is not a pass. The solution shares that
# shell: functions, aliases, traps, a `PATH` of its own standing in for what
# a test calls are undone or refused (see `run_snip`), but what the shell
# holds it can read (the token, in a variable): a solution written against
# this driver can still forge a pass, as one defining functions named like
# a test's commands when a test calls it outside a subshell.
IFS= read -r NONCE
read -r MODE START_KIND START_INDEX PHASE_S SNIPPET_S N_EX N_TESTS CLEANUP
IFS= read -r EXTRA || true
exec 0</dev/null
ERRF="${TMPDIR:-/tmp}/.litmus-err.$$"
# The builtins a solution may shadow with functions (see `run_snip`), listed
# once here rather than by a subshell in every snippet's shell.
BUILTINS=$(compgen -b -X trap)
ENDF="${TMPDIR:-/tmp}/.litmus-end.$$"

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=$(printf '%s' "$s" | LC_ALL=C tr -d '\000-\010\013\014\016-\037')
  printf '"%s"' "$s"
}

emit() {
  printf '{"nonce":"%s",%s}\n' "$NONCE" "$1" >&3
}

now_us() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/./}
    t=${t/,/}
    printf '%s' "$((10#$t))"
  else
    printf '%s' "$(($(date +%s%N) / 1000))"
  fi
}

to_us() {
  local s=$1 int frac
  int=${s%%.*}
  if [ "$int" = "$s" ]; then frac=0; else frac=${s#*.}; fi
  frac="${frac}000000"
  frac=${frac:0:6}
  printf '%s' "$((10#$int * 1000000 + 10#$frac))"
}

fmt_s() {
  printf '%d.%06d' "$(($1 / 1000000))" "$(($1 % 1000000))"
}

# run_snip BUDGET_US SNIPPET_FILE -> sets R_OK R_ERR R_TIMED R_MS
run_snip() {
  local budget_us=$1 snip=$2 start end status token reached
  # Builtins only: no process of its own per run (SRANDOM: bash 5.1+).
  printf -v token '%08x%08x%08x%08x' "${SRANDOM:-$RANDOM$RANDOM}" \
    "${SRANDOM:-$RANDOM$RANDOM}" "${SRANDOM:-$RANDOM$RANDOM}" "${SRANDOM:-$RANDOM$RANDOM}"
  : >"$ENDF"
  start=$(now_us)
  # The snippet's shell. What a solution sourced into it may do to the
  # snippet (see the header): the script is one brace group, parsed before
  # the solution defines any alias; the token is read, and fd 5 closed,
  # before the solution runs; the solution runs without `enable` (no builtin
  # is swapped for a program of the same name) and with a `trap` that does
  # nothing (no DEBUG trap skips a test's commands, no EXIT trap turns an
  # exit into a pass); after it, in POSIX mode (special builtins come
  # before functions), every function named like a builtin is removed (a
  # readonly one fails the run), and aliases, `PATH` and the hash table are
  # put back (the names unquoted, without globbing, as `[` is a pattern; a
  # `set -f` of the solution stays); the snippet's path is kept before the
  # solution runs (a `set --`
  # in it emptied `$1`, and no snippet ran). A run passes only when the shell
  # writes the token after the snippet returned 0.
  timeout -s KILL "$(fmt_s "$budget_us")" bash -c '{
    . ./setup.sh
    IFS= read -r __litmus_t <&5
    exec 5<&-
    enable -n trap enable
    trap() { :; }
    __litmus_b=$2
    __litmus_p=$PATH
    __litmus_s=$1
    readonly __litmus_t __litmus_b __litmus_p __litmus_s
    readonly -f trap
    if . ./solution.sh; then
      POSIXLY_CORRECT=y
      if [[ -o posix ]]; then
        if [[ -o noglob ]]; then
          unset -f -- $__litmus_b || exit 96
        else
          set -f
          unset -f -- $__litmus_b || exit 96
          set +f
        fi
        \unalias -a
        shopt -u expand_aliases extdebug
        PATH=$__litmus_p
        hash -r
        unset POSIXLY_CORRECT
        set +o posix
        if [[ -z $__litmus_s ]] || . "$__litmus_s"; then
          printf %s "$__litmus_t" >&4
          exit 0
        else
          exit
        fi
      fi
    else
      exit
    fi
  }' litmus-snippet "$snip" "$BUILTINS" 3>&- 4>"$ENDF" 5<<<"$token" 2>"$ERRF"
  status=$?
  end=$(now_us)
  if [ "$CLEANUP" = "1" ]; then kill -9 -1 2>/dev/null; fi
  cat "$ERRF" >&2 2>/dev/null
  reached=
  IFS= read -r reached <"$ENDF" 2>/dev/null || true
  R_MS=$(((end - start) / 1000))
  R_TIMED=false
  if [ "$status" -eq 0 ] && [ "$reached" = "$token" ]; then
    R_OK=true
    R_ERR=null
  elif [ "$status" -eq 0 ]; then
    R_OK=false
    if [ -n "$snip" ]; then
      R_ERR=$(json_str "the shell exited before the snippet ran to its end (exit or an EXIT trap in the solution?)")
    else
      R_ERR=$(json_str "the shell exited while loading the solution (exit in the solution?)")
    fi
  else
    R_OK=false
    local tail_err
    tail_err=$(tail -c 2000 "$ERRF" 2>/dev/null)
    if [ "$status" -eq 137 ] && [ $((end - start)) -ge "$budget_us" ]; then
      R_TIMED=true
      R_ERR=$(json_str "timed out after $(fmt_s "$budget_us")s")
    else
      R_ERR=$(json_str "exit status $status${tail_err:+: $tail_err}")
    fi
  fi
  rm -f "$ERRF"
}

if ! bash -n setup.sh 2>"$ERRF"; then
  emit "\"event\":\"infra\",\"error\":$(json_str "the spec's setup code does not parse: $(tail -c 2000 "$ERRF")")"
  emit '"event":"done"'
  exit 0
fi
if ! bash -n solution.sh 2>"$ERRF"; then
  emit "\"event\":\"parsed\",\"ok\":false,\"error\":$(json_str "$(tail -c 2000 "$ERRF")")"
  emit '"event":"done"'
  exit 0
fi
emit '"event":"parsed","ok":true'
if [ "$MODE" = "check" ]; then
  emit '"event":"done"'
  exit 0
fi

PHASE_US=$(to_us "$PHASE_S")
SNIPPET_US=$(to_us "$SNIPPET_S")

if [ "$START_KIND" = "load" ]; then
  run_snip "$PHASE_US" ""
  emit "\"event\":\"executed\",\"ok\":$R_OK,\"error\":$R_ERR,\"timed_out\":$R_TIMED,\"ms\":$R_MS"
  if [ "$R_OK" != "true" ]; then
    emit '"event":"done"'
    exit 0
  fi
fi

run_phase() {
  local kind=$1 n=$2 folder=$3 first=0 i deadline remaining budget
  case "$START_KIND:$kind" in
    test:example) return ;;
  esac
  if [ "$START_KIND" = "$kind" ]; then first=$START_INDEX; fi
  deadline=$(($(now_us) + PHASE_US))
  for ((i = first; i < n; i++)); do
    remaining=$((deadline - $(now_us)))
    if [ "$remaining" -le 1000 ]; then
      emit "\"event\":\"result\",\"kind\":\"$kind\",\"index\":$i,\"ok\":false,\"timed_out\":true,\"ms\":0,\"error\":\"the $kind phase used up its budget\""
      continue
    fi
    budget=$SNIPPET_US
    if [ "$remaining" -lt "$budget" ]; then budget=$remaining; fi
    emit "\"event\":\"begin\",\"kind\":\"$kind\",\"index\":$i"
    run_snip "$budget" "./$folder/$i.sh"
    emit "\"event\":\"result\",\"kind\":\"$kind\",\"index\":$i,\"ok\":$R_OK,\"error\":$R_ERR,\"timed_out\":$R_TIMED,\"ms\":$R_MS"
  done
}

run_phase example "$N_EX" examples
run_phase test "$N_TESTS" tests
emit '"event":"done"'
