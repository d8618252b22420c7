"""The sandbox's side of grading: a worker that runs submissions, one child at a time.

This module runs inside the sandbox, in a freshly executed interpreter that imports numpy, the
library and the probes once. It never sees a seed, a reference answer, a known mistake, a path or
a file of the grader: over its one channel (a socket, its number in BACKPROP_CHANNEL at the start)
it receives a job, the notebook's code cells and the inputs of the cases to run, and it sends back
what happened, as plain data.

For each job the worker forks a child. Where the kernel allows it the child enters namespaces of
its own (user, PID, mount, IPC): it is process 1 of its PID namespace, so every process the
submission starts dies with it; its /tmp is a fresh tmpfs that vanishes with it; it cannot see
the worker or name it in a signal, and it holds no capability. The worker is not dumpable, so
nothing it starts can read or write its memory. After each job the worker kills whatever is left
(inside bubblewrap's PID namespace, every process but itself) and empties its scratch space, so a
submission cannot reach the next one.

Frames on the channel are a 4-byte big-endian length and a payload. From the grader: JSON for the
first (boot) frame, pickle for jobs (the grader is trusted; nothing flows the other way as pickle),
JSON for control. To the grader: ``b"W"`` + JSON from the worker, ``b"C"`` + JSON relayed from the
child, so nothing a child writes can pass for the worker's word.
"""
from __future__ import annotations

import ctypes
import errno
import faulthandler
import gc
import json
import os
import pickle
import resource
import select
import shutil
import signal
import struct
import sys
import time
import types
from typing import Any

MAX_FRAME = 16 * 1024**2
HEADER = struct.Struct(">I")
# Beside the library the sandbox imports: a copy of the grader's matplotlib font list, from which each
# worker and job starts its own matplotlib folder instead of searching the system's fonts again.
FONT_LIST_FOLDER = ".matplotlib-fonts"

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER, _CLONE_NEWPID = 0x00020000, 0x08000000, 0x10000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 8, 32, 4096
_MS_REC, _MS_PRIVATE = 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_CHILD_SUBREAPER = 1, 4, 24, 36
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_SET_SECCOMP = 38, 47, 22
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


# --- frames -----------------------------------------------------------------------------------------------


def write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, limit: int = MAX_FRAME) -> bytes | None:
    """One frame's payload, or None at the end of the stream; a frame over ``limit`` is an error."""
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"a frame of {size} bytes (at most {limit})")
    return read_exact(fd, size)


# --- the child: one submission ----------------------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that a student's ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _write_own(libc: Any, name: str, text: str) -> None:
    """Write /proc/self/``name``. The worker's children are not dumpable, and such a process owns its
    /proc files only where its user namespace maps root (in bubblewrap's); started by root without
    namespaces, with a uid of its own, the child is dumpable for as long as it writes."""
    if libc is not None:
        libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        _write(f"/proc/self/{name}", text)
    finally:
        if libc is not None:
            libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _own_namespaces(libc: Any) -> bool:
    """Enter new user, PID, mount and IPC namespaces (the next fork is process 1 of the new PID one)."""
    if libc is None:
        return False
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWPID | _CLONE_NEWNS | _CLONE_NEWIPC) != 0:
        return False
    try:
        _write_own(libc, "setgroups", "deny")
        _write_own(libc, "uid_map", f"{uid} {uid} 1")
        _write_own(libc, "gid_map", f"{gid} {gid} 1")
    except OSError:
        os._exit(71)  # half-entered namespaces: this child is useless; the worker reports it
    return True


def _private_mounts(libc: Any, scratch_bytes: int, bound: list[str]) -> None:
    """Fresh tmpfs on /tmp and /dev/shm, and a /proc of this PID namespace, in the child's own mount namespace.

    ``bound`` lists the folders of a Python environment that lives under /tmp (bubblewrap binds them
    there, read-only, over the worker's /tmp). They are bound again, read-only, on the job's fresh
    /tmp: wherever Python lives, the job sees the same /tmp with the same cap."""
    libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)
    held = [(folder, os.open(folder, os.O_RDONLY | os.O_DIRECTORY)) for folder in sorted(bound, key=len)
            if os.path.isdir(folder)]
    options = f"size={scratch_bytes},mode=1777".encode()
    for folder in (b"/tmp", b"/dev/shm"):
        if os.path.isdir(folder) and libc.mount(b"tmpfs", folder, b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
            os._exit(72)
    for folder, fd in held:  # a parent first: a folder inside it comes with it, and is bound again on top
        os.makedirs(folder, exist_ok=True)
        target = folder.encode()
        if libc.mount(f"/proc/self/fd/{fd}".encode(), target, None, _MS_BIND | _MS_REC, None) != 0:
            os._exit(72)
        kept = os.statvfs(folder).f_flag & (_MS_NOSUID | _MS_NODEV | _MS_NOEXEC)  # flags a remount must repeat
        if libc.mount(b"none", target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept, None) != 0:
            os._exit(72)
        os.close(fd)
    libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)  # refused: keep the old one


# Per architecture: the audit id, and the numbers of add_key, request_key, keyctl, clone3, unshare, clone.
_SYSCALLS = {
    "x86_64": (0xC000003E, (248, 249, 250, 435), (272, 56)),
    "aarch64": (0xC00000B7, (217, 218, 219, 435), (97, 220)),
}


def syscall_filter() -> bytes | None:
    """The seccomp program (classic BPF, as the kernel and bubblewrap's --seccomp take it) for
    everything a job runs: no kernel keyring (they are shared with the grader's user and outlive the
    job) and no new user namespace (whose mounts no cap would count). None where the architecture
    is not known here."""
    import platform

    arch = _SYSCALLS.get(platform.machine())
    if arch is None:
        return None
    audit, refused, namespaced = arch

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, enosys, eperm, kill = 0x7FFF0000, 0x00050000 | errno.ENOSYS, 0x00050000 | errno.EPERM, 0
    program = [op(load, 4), op(jeq, audit, 1, 0), op(ret, kill), op(load, 0)]
    if audit == 0xC000003E:
        program += [op(jge, 0x40000000, 0, 1), op(ret, eperm)]  # the x32 numbering of the same calls
    for number in refused:
        program += [op(jeq, number, 0, 1), op(ret, enosys)]
    for number in namespaced:  # flags are the first argument (its low 32 bits at offset 16)
        program += [op(jeq, number, 0, 3), op(load, 16), op(jset, _CLONE_NEWUSER, 0, 1), op(ret, eperm),
                    op(load, 0)]
    program.append(op(ret, allow))
    return b"".join(program)


def _filter_syscalls(libc: Any) -> bool:
    """Install ``syscall_filter`` on this process and all it starts; False where there is none."""
    program = syscall_filter() if libc is not None else None
    if program is None:
        return False
    code = ctypes.create_string_buffer(program)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    instructions = len(program) // 8  # struct sock_filter: 8 bytes
    if libc.prctl(_PR_SET_SECCOMP, 2, ctypes.byref(Program(instructions, ctypes.cast(code, ctypes.c_void_p))), 0, 0):
        os._exit(74)
    return True


def _drop_privileges(libc: Any) -> None:
    """No capability (in the child's own user namespace it starts with all of them), none to regain."""
    if libc is None:
        return
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(_LINUX_CAPABILITY_VERSION_3, 0), (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        os._exit(73)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _confine(job: dict[str, Any], scratch: str) -> None:
    limits = job["limits"]
    faulthandler.disable()  # a crash of student code is reported by the grader, not dumped
    gc.freeze()  # the collector leaves the inherited heap alone: no passes over it, no copied pages
    for name, value in ((resource.RLIMIT_AS, limits["memory_bytes"]), (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                        (resource.RLIMIT_CPU, limits["cpu_seconds"]), (resource.RLIMIT_NPROC, limits["processes"]),
                        (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with an error instead of killing
    os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    os.environ.clear()
    os.environ.update(keep, HOME=scratch, MPLBACKEND="Agg", MPLCONFIGDIR=scratch, TMPDIR=scratch)
    _seed_font_list(job.get("font_list"), scratch)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdin = open(os.devnull)
    signal.signal(signal.SIGALRM, _on_alarm)


def _run(job: dict[str, Any], out: int) -> None:
    """Execute the cells, then probe each question; every step is announced before it starts."""
    from .probe import run_cases
    from .probes import PROBES

    def send(message: dict[str, Any]) -> None:
        write_frame(out, json.dumps(message).encode())

    main = types.ModuleType("__main__")  # the notebook's globals, where check() looks too
    sys.modules["__main__"] = main
    namespace = main.__dict__
    cell_seconds = job["cell_seconds"]
    for index, source in enumerate(job["cells"]):
        if index in job["skip"]:
            continue
        send({"cell": index})
        signal.setitimer(signal.ITIMER_REAL, cell_seconds)
        try:
            exec(compile(source, f"<cell {index + 1}>", "exec"), namespace)
        except _Timeout:
            send({"cell_error": index, "error": f"ran longer than {cell_seconds:g} s"})
        except BaseException as exc:  # any failure of a top-level cell is recorded; the rest still run
            send({"cell_error": index, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    for question in job["questions"]:
        send({"question": question["id"]})
        signal.setitimer(signal.ITIMER_REAL, question["seconds"])
        try:
            report = run_cases(PROBES[question["id"]], namespace, question["inputs"],
                               lambda index: send({"case": index}))
        except _Timeout:
            report = {"timeout": True}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        send({"report": question["id"], "data": report})
    send({"finished": True})


def _seed_font_list(source: str | None, folder: str | None) -> None:
    """Start a matplotlib folder with the font list the grader copied to ``source``, if it did."""
    if not source or not folder:
        return
    try:
        names = os.listdir(source)
        os.makedirs(folder, exist_ok=True)
        for name in names:
            shutil.copyfile(os.path.join(source, name), os.path.join(folder, name))
    except OSError:
        pass  # matplotlib then finds the fonts itself


def _child(job: dict[str, Any], out: int, pid_pipe: int, scratch: str, libc: Any) -> None:
    """Runs in the forked child; never returns."""
    code = 70
    try:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        nested = _own_namespaces(libc) if job["namespaces"] else False
        if nested:
            inner = os.fork()
            if inner:  # this process waits for process 1 of the new namespace and passes on its end
                os.write(pid_pipe, str(inner).encode())
                os.close(pid_pipe)
                os.close(out)
                _, status = os.waitpid(inner, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _private_mounts(libc, job["limits"]["scratch_bytes"], job["bound_below_tmp"])
            scratch = "/tmp/work"
        else:
            os.write(pid_pipe, str(os.getpid()).encode())
        os.setsid()  # its own session and process group: a signal to "my group" cannot reach the worker
        os.close(pid_pipe)
        try:
            _write_own(libc, "oom_score_adj", "1000")  # out of memory, the job's processes go first
        except OSError:
            pass
        _drop_privileges(libc if nested else None)
        _filter_syscalls(libc)
        _confine(job, scratch)
        _run(job, out)
        code = 0
    finally:
        os._exit(code)


def children_by_parent() -> dict[int, list[int]]:
    """Every visible process's children, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()  # after the command's name: state, parent, ...
            if len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


class _Frames:
    """Reassembles the child's frames and passes each on as ``b"C"`` + payload."""

    def __init__(self, worker: Worker):
        self.worker, self.buffer = worker, bytearray()

    def feed(self, chunk: bytes, target: int) -> bool:
        """False once the child has broken the framing (it is then killed)."""
        self.buffer += chunk
        start = 0  # consumed frames are cut off once, at the end: no copy of the rest per frame
        while len(self.buffer) - start >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer, start)
            if size > MAX_FRAME:
                self.worker._kill(target)
                self.worker.send({"overflow": True})
                self.buffer = bytearray()
                return False
            end = start + HEADER.size + size
            if len(self.buffer) < end:
                break
            write_frame(self.worker.channel, b"C" + bytes(self.buffer[start + HEADER.size:end]))
            start = end
        del self.buffer[:start]
        return True


# --- the worker -------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, channel: int, config: dict[str, Any]):
        self.channel = channel
        self.config = config
        self.libc = _libc()
        self.scratch = config["scratch"]
        self.font_list = os.path.join(config["front"][0], FONT_LIST_FOLDER)
        self.sweep_all = bool(config["sweep_all"]) and os.getpid() <= 3  # only as a PID namespace's first process
        self.namespaces = self._namespaces_work()

    def send(self, message: dict[str, Any]) -> None:
        write_frame(self.channel, b"W" + json.dumps(message).encode())

    def _namespaces_work(self) -> bool:
        """Whether a child can have namespaces of its own here: try it once, in a throwaway child."""
        if self.libc is None:
            return False
        pid = os.fork()
        if pid == 0:
            ok = _own_namespaces(self.libc)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) == 0

    def serve(self) -> None:
        if self.libc is not None:
            self.libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no set-user-ID program gives a job root back
            self.libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid may read or write our memory
            self.libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # a job's orphans become ours, to be killed
        self.send({"ready": True, "namespaces": self.namespaces})
        while True:
            payload = read_frame(self.channel)
            if payload is None:
                return
            if payload[:1] != b"J":
                continue  # a stale control message (a kill that arrived after its child ended)
            self.run_job(pickle.loads(payload[1:]))

    def run_job(self, job: dict[str, Any]) -> None:
        job["namespaces"] = self.namespaces
        job["bound_below_tmp"] = self.config.get("bound_below_tmp") or []
        job["font_list"] = self.font_list
        scratch = os.path.join(self.scratch, "work")
        data_r, data_w = os.pipe()
        pid_r, pid_w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(self.channel)
            os.close(data_r)
            os.close(pid_r)
            _child(job, data_w, pid_w, scratch, self.libc)
        os.close(data_w)
        os.close(pid_w)
        with os.fdopen(pid_r, "rb") as f:
            text = f.read(32)
        target = int(text) if text.isdigit() else child
        status = self._relay(data_r, child, target)
        os.close(data_r)
        self._sweep(child)
        self.send({"exit": status})

    def _relay(self, data: int, child: int, target: int) -> int:
        """Pass the child's frames on until it ends; kill it when the grader says so."""
        frames = _Frames(self)
        data_open = True
        try:
            ended = os.pidfd_open(child)  # readable once the child has ended: no polling
            timeout = None
        except (AttributeError, OSError):
            ended, timeout = None, 0.005
        try:
            while True:
                watched = [self.channel] + ([data] if data_open else []) + ([ended] if ended is not None else [])
                ready, _, _ = select.select(watched, [], [], timeout)
                if self.channel in ready:
                    message = read_frame(self.channel)
                    if message is None:
                        self._kill(target)
                        os._exit(0)  # the grader is gone
                    if message[:1] == b"K":
                        self._kill(target)
                if data_open and data in ready:
                    chunk = os.read(data, 1 << 16)
                    data_open = bool(chunk) and frames.feed(chunk, target)
                if ended is not None and ended not in ready:
                    continue
                pid, raw = os.waitpid(child, os.WNOHANG)
                if pid:
                    # The child wrote everything before it ended; what its leftovers write later is not read.
                    os.set_blocking(data, False)
                    try:
                        while data_open and (chunk := os.read(data, 1 << 16)):
                            data_open = frames.feed(chunk, target)
                    except BlockingIOError:
                        pass
                    return os.waitstatus_to_exitcode(raw)
        finally:
            if ended is not None:
                os.close(ended)

    def _kill(self, target: int) -> None:
        """Kill the job: process 1 of its PID namespace (which takes the namespace with it) or its group."""
        for kill in (os.kill, os.killpg):
            try:
                kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _children(self) -> list[int]:
        """Our child processes: orphans of a job end up here, since the worker is a subreaper."""
        return children_by_parent().get(os.getpid(), [])

    def _sweep(self, child: int) -> None:
        """Kill every process the job left behind, reap them and empty the scratch space."""
        for _ in range(1000):
            if self.sweep_all:
                try:
                    os.kill(-1, signal.SIGKILL)  # all but ourselves and the namespace's first process
                except ProcessLookupError:
                    pass
            for pid in self._children():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while True:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    pid = 0
                if pid == 0:
                    break
            if not self._children():
                break
            time.sleep(0.001)
        folders = [self.scratch] + (["/dev/shm"] if self.sweep_all and os.path.isdir("/dev/shm") else [])
        for path in (os.path.join(folder, entry) for folder in folders for entry in os.listdir(folder)):
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


def main(config: dict[str, Any]) -> None:
    """Entered from the boot line, with the grader's first frame (the configuration)."""
    import backprop_lib.grading as grading

    grading.IN_SANDBOX = True
    import numpy  # noqa: F401
    import backprop_lib  # noqa: F401

    from . import probe, probes  # noqa: F401

    _seed_font_list(os.path.join(config["front"][0], FONT_LIST_FOLDER), os.environ.get("MPLCONFIGDIR"))
    if config.get("warm"):
        _warm()
    Worker(config["channel"], config).serve()


def _warm() -> None:
    """Import matplotlib (Agg) and pyplot into the worker, before any job, so that the jobs it forks
    have them. Only here: a worker that has run jobs never reads files they could have written (a
    matplotlibrc, a font list)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except Exception:
        pass  # the jobs that plot then fail to import it themselves


# The line the sandbox's interpreter runs (``python -I -S -B -c BOOT``): no path on the command line;
# the first frame on the channel says where the library and site-packages are.
BOOT = (
    "import json,os,struct,sys\n"
    "f=int(os.environ.pop('BACKPROP_CHANNEL'))\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(f,n-len(b))\n"
    "  if not c: raise SystemExit(0)\n"
    "  b+=c\n"
    " return b\n"
    "try:\n"
    " n=struct.unpack('>I',r(4))[0]\n"
    " c=json.loads(r(n))\n"
    " sys.path[:0]=c['front']\n"
    " sys.path.extend(c['back'])\n"
    " os.environ.update(c['env'])\n"
    " c['channel']=f\n"
    " import backprop_lib.grading.worker as w\n"
    " w.main(c)\n"
    "except Exception as e:\n"  # said on the channel: the sandbox has no other way out
    " m=b'W'+json.dumps({'failed':f'{type(e).__name__}: {e}'[:500]}).encode()\n"
    " os.write(f,struct.pack('>I',len(m))+m)\n"
)
