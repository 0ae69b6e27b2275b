# litmus Python driver (protocol: src/lang/driver.rs).
#
# The driver itself never executes the solution: the solution is compiled
# here (parse check) and every run -- loading the solution, each example,
# each unit test -- happens in a forked child that loads the solution into a
# fresh `solution` module. The parent enforces each child's time budget with
# SIGKILL (so C-level hangs are covered too), kills the child's process
# group (and, where safe, every other process of the sandbox) afterwards,
# and reports over fd 3, which children close before running anything.
# Start-up time matters (one process per sample): only cheap built-in
# modules are imported up front (no json/re/enum/traceback), and the host
# runs a precompiled copy of this file.
import builtins
import os
import select
import sys
import time

import _signal

SIGKILL = _signal.SIGKILL
SIGNAL_NAMES = {
    _signal.SIGKILL: "SIGKILL (killed: memory/CPU limit or external kill)",
    _signal.SIGXCPU: "SIGXCPU (CPU time limit)",
    _signal.SIGXFSZ: "SIGXFSZ (file size limit)",
    _signal.SIGSEGV: "SIGSEGV (crash)",
    _signal.SIGABRT: "SIGABRT",
    _signal.SIGBUS: "SIGBUS",
    _signal.SIGFPE: "SIGFPE",
    _signal.SIGTERM: "SIGTERM",
}
ModuleType = type(sys)
REPORT_FD = 3
DRIVER_NAME = "_litmus_driver.py"  # co_filename, also when run from the .pyc
ERR_CAP = 4000


def read_text(path):
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read()


def jstr(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF:
            out.append("\\u%04x" % (o if o < 0x20 else 0xFFFD))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jval(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    return jstr(str(v))


def format_exception(e, skip_driver_frames=True):
    import traceback

    tb = e.__traceback__
    if skip_driver_frames:
        while tb is not None and os.path.basename(tb.tb_frame.f_code.co_filename) == DRIVER_NAME:
            tb = tb.tb_next
    if isinstance(e, SyntaxError):
        lines = traceback.format_exception_only(type(e), e)
    else:
        lines = traceback.format_exception(type(e), e, tb)
    text = "".join(lines).strip()
    if len(text) > ERR_CAP:
        text = "..." + text[-ERR_CAP:]
    return text


def main():
    lines = sys.stdin.buffer.read().decode("utf-8", "replace").split("\n")
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    nonce = lines[0].strip()
    (mode, start_kind, start_index, phase_s, snippet_s, n_ex, n_tests,
     cleanup_all) = lines[1].split()
    start_index, n_ex, n_tests = int(start_index), int(n_ex), int(n_tests)
    phase_s, snippet_s = float(phase_s), float(snippet_s)
    cleanup_all = cleanup_all == "1"
    # Line 3 is JSON written by the (trusted) host; it only holds strings,
    # lists and objects, so Python's literal syntax reads it.
    extra = {}
    if len(lines) > 2 and lines[2].strip():
        extra = eval(lines[2], {"__builtins__": {}}, {"true": True, "false": False, "null": None})
    for p in extra.get("site", []):
        if p and p not in sys.path:
            sys.path.append(p)

    def emit(**kw):
        kw["nonce"] = nonce
        body = ",".join("%s:%s" % (jstr(k), jval(v)) for k, v in kw.items())
        data = ("{" + body + "}\n").encode("utf-8", "replace")
        while data:
            n = os.write(REPORT_FD, data)
            data = data[n:]

    try:
        setup_code = compile(read_text("setup.py"), "setup.py", "exec", dont_inherit=True)
    except BaseException as e:  # noqa: BLE001
        emit(event="infra", error="the spec's setup code does not compile: " + format_exception(e))
        emit(event="done")
        return
    try:
        sol_code = compile(read_text("solution.py"), "solution.py", "exec", dont_inherit=True)
    except BaseException as e:  # noqa: BLE001 - SyntaxError, ValueError, RecursionError, ...
        emit(event="parsed", ok=False, error=format_exception(e))
        emit(event="done")
        return
    emit(event="parsed", ok=True)
    if mode == "check":
        emit(event="done")
        return

    def kill_descendants():
        me = str(os.getpid()).encode()
        for _ in range(100):
            found = False
            try:
                entries = os.listdir("/proc")
            except OSError:
                return
            for entry in entries:
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % entry, "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                fields = stat[stat.rfind(b")") + 2:].split()
                if len(fields) > 1 and fields[1] == me and fields[0] != b"Z":
                    try:
                        os.kill(int(entry), SIGKILL)
                        found = True
                    except OSError:
                        pass
            while True:
                try:
                    if os.waitpid(-1, os.WNOHANG)[0] == 0:
                        break
                except ChildProcessError:
                    break
            if not found:
                return
            time.sleep(0.001)

    def run_child(snippet, budget, load_budget=None, on_loaded=None):
        """Fork; the child loads the solution (and runs `snippet`).

        The child writes b"L<token>" once the solution is loaded, then
        b"OK <token>" or b"ER <error>" (the token makes stray bytes the code
        writes into the pipe harmless). With `load_budget`, loading gets that budget and the
        snippet `budget` starts once b"L" arrives (`on_loaded` is called then).
        Returns (ok, error, timed_out, ms, loaded, load_ms).
        """
        r, w = os.pipe()
        token = os.urandom(16).hex().encode()
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(r)
                os.close(REPORT_FD)
                try:
                    os.setpgid(0, 0)
                except OSError:
                    pass
                mod = ModuleType("solution")
                mod.__file__ = "solution.py"
                mod.__builtins__ = builtins
                sys.modules["solution"] = mod
                g = mod.__dict__
                exec(setup_code, g)
                exec(sol_code, g)
                os.write(w, b"L" + token)
                if snippet is not None:
                    src, name = snippet
                    exec(compile(src, name, "exec", dont_inherit=True), g)
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                os.write(w, b"OK " + token)
                status = 0
            except BaseException as e:  # noqa: BLE001 - includes SystemExit
                try:
                    msg = format_exception(e)
                    os.write(w, b"ER " + msg.encode("utf-8", "replace")[:ERR_CAP])
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                os._exit(status)
        os.close(w)
        os.set_blocking(r, False)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        deadline = t0 + (load_budget if load_budget is not None else budget)
        buf = bytearray()
        eof = False
        status = None
        timed_out = False
        loaded_at = None

        def drain():
            nonlocal eof
            while not eof:
                try:
                    chunk = os.read(r, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    eof = True
                    return
                if not chunk:
                    eof = True
                    return
                if len(buf) < 2 * ERR_CAP:
                    buf.extend(chunk[: 2 * ERR_CAP - len(buf)])

        def check_loaded():
            nonlocal loaded_at, deadline
            if loaded_at is None and (b"L" + token) in buf:
                loaded_at = time.monotonic()
                if load_budget is not None:
                    deadline = loaded_at + budget
                if on_loaded is not None:
                    on_loaded(int((loaded_at - t0) * 1000))

        while True:
            if pidfd is None:
                wpid, st = os.waitpid(pid, os.WNOHANG)
                if wpid:
                    status = st
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            fds = ([] if eof else [r]) + ([pidfd] if pidfd is not None else [])
            wait = remaining if pidfd is not None else min(remaining, 0.005)
            try:
                if fds:
                    ready, _, _ = select.select(fds, [], [], wait)
                else:
                    time.sleep(wait)
                    ready = []
            except InterruptedError:
                continue
            if r in ready:
                drain()
                check_loaded()
            if pidfd is not None and pidfd in ready:
                break
        if timed_out:
            try:
                os.kill(pid, SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(pid, SIGKILL)
        except OSError:
            pass
        if status is None:
            _, status = os.waitpid(pid, 0)
        if cleanup_all:
            # Everything else of this sandbox (e.g. setsid'd grandchildren).
            try:
                os.kill(-1, SIGKILL)
            except OSError:
                pass
        else:
            # No PID namespace or dedicated uid (non-root fallback): we are a
            # child subreaper, so orphans re-parent to us; kill our children
            # until none is left.
            kill_descendants()
        # Reap orphans re-parented to us (fallback sandbox: we are a subreaper).
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        drain()
        check_loaded()
        os.close(r)
        if pidfd is not None:
            os.close(pidfd)
        now = time.monotonic()
        ms = int((now - t0) * 1000)
        load_ms = int(((loaded_at or now) - t0) * 1000)
        loaded = loaded_at is not None
        data = bytes(buf)
        code = os.waitstatus_to_exitcode(status)
        if not timed_out and code == 0 and loaded and data.endswith(b"OK " + token):
            return True, None, False, ms, loaded, load_ms
        if timed_out:
            spent = budget if (loaded or load_budget is None) else load_budget
            return False, "timed out after %.2fs" % spent, True, ms, loaded, load_ms
        at = data.rfind(b"ER ")
        if at >= 0:
            return False, data[at + 3:].decode("utf-8", "replace"), False, ms, loaded, load_ms
        if code < 0:
            return (False, "killed by %s" % SIGNAL_NAMES.get(-code, "signal %d" % -code),
                    False, ms, loaded, load_ms)
        return (False, "exited with status %d before finishing" % code, False, ms, loaded,
                load_ms)

    # Loading the solution is the "executed" check. When there are snippets,
    # the first snippet's child doubles as the load check (one fork less).
    need_load = start_kind == "load"
    if need_load and n_ex + n_tests == 0:
        ok, err, to, ms, _, _ = run_child(None, phase_s)
        emit(event="executed", ok=ok, error=err, timed_out=to, ms=ms)
        emit(event="done")
        return

    def report_loaded(load_ms):
        emit(event="executed", ok=True, error=None, timed_out=False, ms=load_ms)

    order = {"load": 0, "example": 1, "test": 2}
    for kind, n, folder in (("example", n_ex, "examples"), ("test", n_tests, "tests")):
        if order[kind] < order[start_kind]:
            continue
        first = start_index if kind == start_kind else 0
        deadline = time.monotonic() + phase_s
        for i in range(first, n):
            remaining = deadline - time.monotonic()
            if remaining <= 0.001:
                emit(event="result", kind=kind, index=i, ok=False, timed_out=True,
                     error="the %s phase used up its %.1fs budget" % (kind, phase_s), ms=0)
                continue
            try:
                src = read_text("%s/%d.py" % (folder, i))
            except OSError as e:
                emit(event="infra", error="cannot read %s %d: %s" % (kind, i, e))
                emit(event="done")
                return
            emit(event="begin", kind=kind, index=i)
            budget = min(snippet_s, remaining)
            if need_load:
                ok, err, to, ms, loaded, load_ms = run_child(
                    (src, "<%s %d>" % (kind, i)), budget, phase_s, report_loaded)
                if not loaded:
                    emit(event="executed", ok=False, error=err, timed_out=to, ms=ms)
                    emit(event="done")
                    return
                need_load = False
                deadline += load_ms / 1000.0
                ms -= load_ms
            else:
                ok, err, to, ms, _, _ = run_child((src, "<%s %d>" % (kind, i)), budget)
            emit(event="result", kind=kind, index=i, ok=ok, error=err, timed_out=to, ms=ms)
    emit(event="done")


if __name__ == "__main__":
    main()
    # Skip interpreter finalisation (a few ms per sample): everything was
    # reported and fd 3 writes are unbuffered.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)
