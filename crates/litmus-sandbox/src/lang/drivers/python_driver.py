# litmus Python driver (protocol: src/lang/driver.rs).
#
# The driver itself never executes the solution: the solution is compiled
# here (parse check) and every run -- loading the solution, each example,
# each unit test -- happens in a forked child that loads the solution into a
# fresh `solution` module. The parent enforces each child's time budget with
# SIGKILL (so C-level hangs are covered too), kills the child's process
# group (and, where safe, every other process of the sandbox) afterwards,
# and reports over fd 3, which children close before running anything.
# Start-up time matters (one process per sample, eight forks per sample):
#
# * only built-in modules are imported up front (`posix` rather than `os`,
#   no json/re/enum), and the host runs a precompiled copy of this
#   file;
# * the parent compiles the snippets (trusted spec code) and imports the
#   standard-library modules that the solution, setup and snippets import
#   (from a list of side-effect-free modules) once, before forking, instead
#   of every child doing it again;
# * errors are formatted here, as the `traceback` module would (without
#   its column markers): importing it costs more than most answers' tests;
# * `gc.freeze()` before each fork keeps the children's garbage collector
#   off the parent's objects (fewer copy-on-write page faults).
import builtins
import gc
import posix
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
# Imported by the parent before forking when the code imports them: pure
# standard-library modules without import-time side effects or per-process
# state (no `random`: each child must seed its own generator).
PRELOAD = frozenset("""
abc array bisect calendar cmath collections contextlib copy dataclasses
datetime decimal enum fractions functools heapq itertools json keyword math
numbers operator os re string struct textwrap types typing unicodedata
""".split())


class SetupFailed(Exception):
    """The spec's setup code raised (args: its formatted error)."""


def read_text(path):
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read()


def jstr(s):
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'  # the common case, without the loop below
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


SOURCES = {}  # file name -> its lines, for error messages


def source_line(filename, lineno):
    """Line `lineno` of `filename`, stripped ("" when unknown), as the
    traceback module shows it; names like "<test 0>" have no source."""
    lines = SOURCES.get(filename)
    if lines is None:
        if not filename or filename[0] == "<":
            return ""
        try:
            lines = read_text(filename).split("\n")
        except BaseException:  # noqa: BLE001
            lines = []
        SOURCES[filename] = lines
    return lines[lineno - 1].strip() if lineno and 0 < lineno <= len(lines) else ""


def exception_only(e):
    """`traceback.format_exception_only(type(e), e)`, joined."""
    t = type(e)
    try:
        stype = str(t.__qualname__)
        module = t.__module__
        if module not in ("__main__", "builtins"):
            stype = "%s.%s" % (module, stype)
    except BaseException:  # noqa: BLE001 - a class that hides its names
        stype = "<unknown>"
    out = []
    if isinstance(e, SyntaxError):
        suffix = ""
        if e.lineno is not None:
            out.append('  File "%s", line %s\n' % (e.filename or "<string>", e.lineno))
        elif e.filename is not None:
            suffix = " (%s)" % e.filename
        if e.text is not None:
            rtext = e.text.rstrip("\n")
            ltext = rtext.lstrip(" \n\f")
            spaces = len(rtext) - len(ltext)
            out.append("    %s\n" % ltext)
            if e.offset is not None:
                offset = e.offset
                end = getattr(e, "end_offset", None)
                end = offset if end in (None, 0) else end
                if offset == end or end == -1:
                    end = offset + 1
                col, end_col = offset - 1 - spaces, end - 1 - spaces
                if col >= 0:
                    pad = "".join(c if c.isspace() else " " for c in ltext[:col])
                    out.append("    %s%s\n" % (pad, "^" * (end_col - col)))
        out.append("%s: %s%s\n" % (stype, e.msg or "<no detail available>", suffix))
    else:
        try:
            value = str(e)
        except BaseException:  # noqa: BLE001
            value = "<exception str() failed>"
        out.append("%s: %s\n" % (stype, value) if value else stype + "\n")
    notes = getattr(e, "__notes__", None)
    if notes is not None:
        if isinstance(notes, (list, tuple)):
            for note in notes:
                try:
                    note = str(note)
                except BaseException:  # noqa: BLE001
                    note = "<note str() failed>"
                out.append(note + "\n")
        else:
            try:
                out.append(repr(notes) + "\n")
            except BaseException:  # noqa: BLE001
                out.append("<__notes__ repr() failed>\n")
    return "".join(out)


def stack_lines(tb):
    """The frames of `tb` as the traceback module formats them (without
    its column markers), runs of one repeated frame cut after three."""
    out = []
    last, count = None, 0

    def cut_run():
        if count > 3:
            n = count - 3
            out.append("  [Previous line repeated %d more time%s]\n" % (n, "s" if n > 1 else ""))

    while tb is not None:
        code = tb.tb_frame.f_code
        key = (code.co_filename, tb.tb_lineno, code.co_name)
        if key == last:
            count += 1
        else:
            cut_run()
            last, count = key, 1
        if count <= 3:
            out.append('  File "%s", line %s, in %s\n' % key)
            line = source_line(key[0], key[1])
            if line:
                out.append("    %s\n" % line)
        tb = tb.tb_next
    cut_run()
    return out


# Formatted by `traceback` (Python 3.11+; None before).
EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", None)
CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_exception(e, skip_driver_frames=True):
    """The error text of `e`: `traceback.format_exception`'s, chained
    exceptions included, without the column markers (`^^^`) that Python 3.11
    adds. Written out here because importing `traceback` (and the `re`,
    `tokenize`, `linecache` and `ast` it brings) costs a sandbox more CPU
    time than a typical wrong answer's tests; exception groups still use it.
    An exception whose attributes defeat the formatting (the code under test
    made it) is named by its type alone."""
    try:
        text = formatted(e, skip_driver_frames)
    except BaseException:  # noqa: BLE001
        try:
            text = "%s (its details could not be formatted)" % type(e).__name__
        except BaseException:  # noqa: BLE001
            text = "an exception whose details could not be formatted"
    if len(text) > ERR_CAP:
        text = "..." + text[-ERR_CAP:]
    return text


def formatted(e, skip_driver_frames):
    tb = e.__traceback__
    if skip_driver_frames:
        while tb is not None and tb.tb_frame.f_code.co_filename.rpartition("/")[2] == DRIVER_NAME:
            tb = tb.tb_next
    if isinstance(e, SyntaxError):
        text = exception_only(e)
    else:
        chain = []  # (exception, its traceback, separator before the next)
        seen = set()
        cur, sep = e, None
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            chain.append((cur, tb if cur is e else cur.__traceback__, sep))
            if cur.__cause__ is not None:
                cur, sep = cur.__cause__, CAUSE
            elif cur.__context__ is not None and not cur.__suppress_context__:
                cur, sep = cur.__context__, CONTEXT
            else:
                cur = None
        if EXCEPTION_GROUP and any(isinstance(x, EXCEPTION_GROUP) for x, _, _ in chain):
            import traceback

            lines = traceback.format_exception(type(e), e, tb)
        else:
            lines = []
            for x, x_tb, sep in reversed(chain):
                if x_tb is not None:
                    lines.append("Traceback (most recent call last):\n")
                    lines.extend(stack_lines(x_tb))
                lines.append(exception_only(x))
                if sep:
                    lines.append(sep)
        text = "".join(lines)
    return text.strip()


def reap_children(wait_s=0.0):
    """Reap every child that has exited; with `wait_s`, also wait up to that
    long for the children still dying (all of them were sent SIGKILL)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if posix.waitpid(-1, posix.WNOHANG)[0] == 0:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.0005)
        except ChildProcessError:
            return


def imported_modules(src):
    """Top-level names of the modules `src` imports (a textual scan of
    `import a.b, c` and `from a.b import x` statements)."""
    names = set()
    for line in src.splitlines():
        for stmt in line.split(";"):
            words = stmt.replace(",", " , ").split()
            if len(words) > 1 and words[0] == "import":
                expect_name = True
                for word in words[1:]:
                    if expect_name:
                        names.add(word.partition(".")[0])
                    expect_name = word == ","
            elif len(words) > 3 and words[0] == "from" and words[2] == "import":
                names.add(words[1].partition(".")[0])
    return names


def preload(sources):
    """Import the PRELOAD modules that `sources` import. Errors are left to
    the children, which import them again and report what goes wrong."""
    wanted = set()
    for src in sources:
        if "import" in src:
            wanted |= imported_modules(src)
    for name in sorted(wanted & PRELOAD):
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001
            pass


def main():
    lines = sys.stdin.buffer.read().decode("utf-8", "replace").split("\n")
    fd = posix.open("/dev/null", posix.O_RDONLY)
    posix.dup2(fd, 0)
    posix.close(fd)
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
            n = posix.write(REPORT_FD, data)
            data = data[n:]

    try:
        setup_src = read_text("setup.py")
        setup_code = compile(setup_src, "setup.py", "exec", dont_inherit=True)
    except BaseException as e:  # noqa: BLE001
        emit(event="infra", error="the spec's setup code does not compile: " + format_exception(e))
        emit(event="done")
        return
    try:
        sol_src = read_text("solution.py")
        sol_code = compile(sol_src, "solution.py", "exec", dont_inherit=True)
    except BaseException as e:  # noqa: BLE001 - SyntaxError, ValueError, RecursionError, ...
        emit(event="parsed", ok=False, error=format_exception(e))
        emit(event="done")
        return
    emit(event="parsed", ok=True)
    # The children's error messages quote these lines (without reading them again).
    SOURCES["setup.py"] = setup_src.split("\n")
    SOURCES["solution.py"] = sol_src.split("\n")
    if mode == "check":
        emit(event="done")
        return

    # Every snippet's source, or the OSError reading it (reported when the
    # snippet's turn comes).
    sources = {}
    for kind, n, folder in (("example", n_ex, "examples"), ("test", n_tests, "tests")):
        for i in range(n):
            try:
                sources[kind, i] = read_text("%s/%d.py" % (folder, i))
            except OSError as e:
                sources[kind, i] = e
    preload([setup_src, sol_src]
            + [src for src in sources.values() if isinstance(src, str)])

    def kill_descendants():
        me = str(posix.getpid()).encode()
        for _ in range(100):
            found = False
            try:
                entries = posix.listdir("/proc")
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
                        posix.kill(int(entry), SIGKILL)
                        found = True
                    except OSError:
                        pass
            reap_children()
            if not found:
                return
            time.sleep(0.001)

    # Whether code of the answer has run in this sandbox (a resumed driver
    # starts after some has).
    answer_ran = start_kind != "load"

    def run_child(snippet, budget, load_budget=None, on_loaded=None):
        """Fork; the child loads the solution (and runs `snippet`: a
        (code or None, source, name) triple; without code, the child compiles
        the source itself).

        The child writes b"L<token>" once the solution is loaded, then
        b"OK <token>" or b"ER <error>" (the token makes stray bytes the code
        writes into the pipe harmless). With `load_budget`, loading gets that budget and the
        snippet `budget` starts once b"L" arrives (`on_loaded` is called then).
        Returns (ok, error, timed_out, ms, loaded, load_ms). Raises
        SetupFailed when the spec's setup code fails in the first child.
        """
        nonlocal answer_ran
        first = not answer_ran
        answer_ran = True
        r, w = posix.pipe()
        # When loading is reported on its own (`on_loaded`), the child waits
        # after b"L" until the parent has reported it: a snippet that kills
        # the parent cannot outrun the report, so the same answer gets the
        # same score however the two processes are scheduled.
        ack_r, ack_w = posix.pipe() if on_loaded is not None else (None, None)
        token = posix.urandom(16).hex().encode()
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()
        t0 = time.monotonic()
        pid = posix.fork()
        if pid == 0:
            status = 1
            try:
                posix.close(r)
                posix.close(REPORT_FD)
                if ack_w is not None:
                    posix.close(ack_w)
                try:
                    posix.setpgid(0, 0)
                except OSError:
                    pass
                mod = ModuleType("solution")
                mod.__file__ = "solution.py"
                mod.__builtins__ = builtins
                sys.modules["solution"] = mod
                g = mod.__dict__
                try:
                    exec(setup_code, g)
                except BaseException as e:  # noqa: BLE001 - the spec's fault, not the answer's
                    msg = format_exception(e)
                    posix.write(w, b"SE" + token + msg.encode("utf-8", "replace")[:ERR_CAP])
                    raise SetupFailed() from None
                exec(sol_code, g)
                posix.write(w, b"L" + token)
                if ack_r is not None:
                    try:
                        posix.read(ack_r, 1)
                        posix.close(ack_r)
                    except OSError:
                        pass
                if snippet is not None:
                    code, src, name = snippet
                    if code is None:
                        code = compile(src, name, "exec", dont_inherit=True)
                    exec(code, g)
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                posix.write(w, b"OK " + token)
                status = 0
            except SetupFailed:
                pass
            except BaseException as e:  # noqa: BLE001 - includes SystemExit
                try:
                    msg = format_exception(e)
                    posix.write(w, b"ER " + msg.encode("utf-8", "replace")[:ERR_CAP])
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except BaseException:  # noqa: BLE001
                    pass
                posix._exit(status)
        posix.close(w)
        if ack_r is not None:
            posix.close(ack_r)
        posix.set_blocking(r, False)
        try:
            pidfd = posix.pidfd_open(pid)
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
                    chunk = posix.read(r, 65536)
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
            nonlocal loaded_at, deadline, ack_w
            if loaded_at is None and (b"L" + token) in buf:
                loaded_at = time.monotonic()
                if load_budget is not None:
                    deadline = loaded_at + budget
                if on_loaded is not None:
                    on_loaded(int((loaded_at - t0) * 1000))
            if loaded_at is not None and ack_w is not None:
                try:
                    posix.write(ack_w, b"G")
                except OSError:
                    pass
                posix.close(ack_w)
                ack_w = None

        while True:
            if pidfd is None:
                wpid, st = posix.waitpid(pid, posix.WNOHANG)
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
                posix.kill(pid, SIGKILL)
            except OSError:
                pass
        try:
            posix.killpg(pid, SIGKILL)
        except OSError:
            pass
        if status is None:
            _, status = posix.waitpid(pid, 0)
        if cleanup_all:
            # Everything else of this sandbox (e.g. setsid'd grandchildren).
            try:
                posix.kill(-1, SIGKILL)
            except OSError:
                pass
            # They all die; as a subreaper (fallback) we are the parent of
            # every orphan among them: reap them all now. A zombie left
            # behind would still count against the uid's process limit
            # (RLIMIT_NPROC), of this run and of the next one on this uid.
            reap_children(0.5)
        else:
            # No PID namespace or dedicated uid (non-root fallback): we are a
            # child subreaper, so orphans re-parent to us; kill our children
            # until none is left.
            kill_descendants()
        # Reap orphans re-parented to us (fallback sandbox: we are a subreaper).
        reap_children()
        drain()
        check_loaded()
        posix.close(r)
        if ack_w is not None:
            posix.close(ack_w)
        if pidfd is not None:
            posix.close(pidfd)
        now = time.monotonic()
        ms = int((now - t0) * 1000)
        load_ms = int(((loaded_at or now) - t0) * 1000)
        loaded = loaded_at is not None
        data = bytes(buf)
        code = posix.waitstatus_to_exitcode(status)
        if not timed_out and code == 0 and loaded and data.endswith(b"OK " + token):
            return True, None, False, ms, loaded, load_ms
        if timed_out:
            spent = budget if (loaded or load_budget is None) else load_budget
            return False, "timed out after %.2fs" % spent, True, ms, loaded, load_ms
        if data.startswith(b"SE" + token):
            err = data[2 + len(token):].decode("utf-8", "replace")
            if first:
                # No code of the answer has run in this sandbox yet: the
                # spec's setup is broken, whatever the answer.
                raise SetupFailed(err)
            # After the answer has run here (it may have changed what the
            # setup reads), the failure counts against this run.
            return False, "the setup code failed: " + err, False, ms, loaded, load_ms
        at = data.rfind(b"ER ")
        if at >= 0:
            return False, data[at + 3:].decode("utf-8", "replace"), False, ms, loaded, load_ms
        if code < 0:
            return (False, "killed by %s" % SIGNAL_NAMES.get(-code, "signal %d" % -code),
                    False, ms, loaded, load_ms)
        return (False, "exited with status %d before finishing" % code, False, ms, loaded,
                load_ms)

    try:
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
        for kind, n in (("example", n_ex), ("test", n_tests)):
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
                src = sources[kind, i]
                if isinstance(src, OSError):
                    emit(event="infra", error="cannot read %s %d: %s" % (kind, i, src))
                    emit(event="done")
                    return
                name = "<%s %d>" % (kind, i)
                try:
                    code = compile(src, name, "exec", dont_inherit=True)
                except BaseException:  # noqa: BLE001 - the child reports it
                    code = None
                emit(event="begin", kind=kind, index=i)
                budget = min(snippet_s, remaining)
                if need_load:
                    ok, err, to, ms, loaded, load_ms = run_child(
                        (code, src, name), budget, phase_s, report_loaded)
                    if not loaded:
                        emit(event="executed", ok=False, error=err, timed_out=to, ms=ms)
                        emit(event="done")
                        return
                    need_load = False
                    deadline += load_ms / 1000.0
                    ms -= load_ms
                else:
                    ok, err, to, ms, _, _ = run_child((code, src, name), budget)
                emit(event="result", kind=kind, index=i, ok=ok, error=err, timed_out=to, ms=ms)
        emit(event="done")

    except SetupFailed as e:
        emit(event="infra", error="the spec's setup code failed: " + e.args[0])
        emit(event="done")

if __name__ == "__main__":
    main()
    # Skip interpreter finalisation (a few ms per sample): everything was
    # reported and fd 3 writes are unbuffered.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        posix._exit(0)
