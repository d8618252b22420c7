"""The grader's side of the sandbox: start a worker, talk to it, and never believe it.

A sandbox is a freshly executed interpreter (``python -I -S -B``, never a fork of the grader)
running ``worker.py``. On Linux with bubblewrap it runs in new user, PID, mount, network, IPC and
UTS namespaces as an unprivileged uid with no capability; it sees a read-only system and Python
environment, a read-only copy of the library without the trusted half of grading (see
``sandbox_library``), and one private tmpfs; nothing of the submissions, solutions/, the gradebook
or home folders. Elsewhere it is an ordinary process (``isolation="process"``) that still runs in
a scratch folder with a scrubbed environment, but can see the files its uid can. Started by root
(a platform's container, where Docker forbids namespaces), that process runs as a uid of its own
(``PROCESS_UIDS``), with no supplementary group and no capability, and closing the sandbox kills
every process of that uid, then what that uid owns where everyone may write: whatever a submission
leaves running dies before the grader writes a result. Where that uid could not run this Python (one under /root, say), the worker stays root's,
and ``Sandbox.root_kept`` says why.

Everything that comes back is hostile input: frames have a size cap, each submission a byte and
message budget, and a wall-clock budget that nothing the sandbox sends can extend.
"""
from __future__ import annotations

import atexit
import compileall
import grp
import importlib.util
import json
import os
import pickle
import pwd
import select
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .cgroups import Cap, descendants
from .worker import BOOT, FONT_LIST_FOLDER, HEADER, MAX_FRAME

NAMESPACES, PROCESS = "namespaces", "process"
SANDBOX_UID = 1000
START_SECONDS = 120.0  # a cold start on a loaded machine: numpy, matplotlib and the library
# The half of grading that runs beside student code; the rest of grading/ and course/ stay out.
UNTRUSTED = ("__init__.py", "plain.py", "probe.py", "worker.py")
# Environment variables passed on: OpenBLAS needs these on processors where they are set.
PASSED_ON = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL")
# Started by root without namespaces, each sandbox's worker runs as one of these uids, one that no
# account and no running process has: its jobs can then signal nothing but their own sandbox, are
# counted against their own process limit, and the judge can end whatever they leave by their uid.
PROCESS_UIDS = range(64_000, 65_000)
MAX_FONT_LIST = 4 * 1024**2
STOP_SECONDS = 5.0  # to see every process of a sandbox's uid gone once it is closed
# Where every user may write: what a sandbox with a uid of its own left there is removed with it.
WRITABLE_BY_ALL = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


class SandboxError(Exception):
    """The sandbox could not be started or broke its protocol; one line for the user."""


class WorkerGone(SandboxError):
    """The worker process ended (killed from inside, or out of memory)."""


# --- the library as the sandbox sees it --------------------------------------------------------------------

_library_lock = threading.Lock()
_library: Path | None = None


def _untrusted(relative: Path) -> bool:
    parts = relative.parts
    if parts[0] == "course":
        return False
    if parts[0] != "grading":
        return True
    return len(parts) == 2 and parts[1] in UNTRUSTED or len(parts) == 3 and parts[1] == "probes"


def sandbox_library() -> Path:
    """A folder holding ``backprop_lib`` without the trusted half of grading, compiled; made once."""
    global _library
    with _library_lock:
        if _library is None:
            import backprop_lib

            source = Path(backprop_lib.__file__).resolve().parent
            root = Path(tempfile.mkdtemp(prefix="backprop-sandbox-lib-"))
            atexit.register(shutil.rmtree, root, True)
            for path in sorted(source.rglob("*.py")):
                relative = path.relative_to(source)
                if _untrusted(relative):
                    target = root / "backprop_lib" / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
            compileall.compile_dir(root, quiet=2, workers=1)
            _copy_font_list(root / FONT_LIST_FOLDER)
            for folder, dirs, files in os.walk(root):
                os.chmod(folder, 0o755)
                for name in files:
                    os.chmod(os.path.join(folder, name), 0o644)
            _library = root
        return _library


def _matplotlib_cache() -> Path:
    """Where matplotlib keeps its font list for this user (its own rule, without importing it)."""
    if os.environ.get("MPLCONFIGDIR"):
        return Path(os.environ["MPLCONFIGDIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "matplotlib"


def _copy_font_list(folder: Path) -> None:
    """This user's matplotlib font list, for the worker to start its matplotlib folder with: without
    one, matplotlib searches the system's fonts again in every worker and job (a tenth of a second,
    and two runs of fc-list). Only fonts the sandbox can read are kept (matplotlib's own, and those
    under /usr or the Python folders), so the list names nothing of home folders; where there is no
    list, nothing is copied and the worker builds its own."""
    seen = ("/usr/", *(f"{top.rstrip('/')}/" for top in _python_folders()))
    try:
        lists = sorted(_matplotlib_cache().glob("fontlist-v*.json"))
        for path in lists:
            if not path.is_file() or path.stat().st_size > MAX_FONT_LIST:
                continue
            fonts = json.loads(path.read_text(encoding="utf-8"))
            for key in ("ttflist", "afmlist"):
                fonts[key] = [entry for entry in fonts[key] if isinstance(entry, dict)
                              and isinstance(entry.get("fname"), str)
                              and (not entry["fname"].startswith("/") or entry["fname"].startswith(seen))]
            folder.mkdir(exist_ok=True)
            (folder / path.name).write_text(json.dumps(fonts), encoding="utf-8")
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        shutil.rmtree(folder, ignore_errors=True)  # a list we could not read: the worker builds its own


def _site_packages() -> list[str]:
    """Where this interpreter finds numpy, matplotlib and the rest (not the course's own folder)."""
    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        folders.append(site.getusersitepackages())
    for key in ("purelib", "platlib"):
        folders.append(sysconfig.get_paths()[key])
    return [f for f in dict.fromkeys(os.path.realpath(f) for f in folders) if os.path.isdir(f)]


def _python_folders() -> list[str]:
    """The interpreter's prefixes and its site-packages: what the sandbox binds read-only."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    return sorted(prefixes | set(_site_packages()))


# --- a uid of its own, run by root without namespaces ---------------------------------------------------

_uid_lock = threading.Lock()
_uids_taken: set[int] = set()


def _process_table() -> list[tuple[int, int, set[int], str]]:
    """(pid, parent, its uids, its state) of every visible process, from /proc."""
    table = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            uids = {int(uid) for uid in fields["Uid"].split()}
            table.append((int(entry), int(fields["PPid"]), uids, fields["State"].strip()[:1]))
        except (OSError, KeyError, ValueError):
            continue
    return table


def _open_to_others(path: str) -> bool:
    """Whether a uid that owns nothing on the way (not the owner, not in the group) reaches ``path``."""
    real = Path(os.path.realpath(path))
    try:
        target = os.stat(real).st_mode
        folders = [os.stat(folder).st_mode for folder in real.parents]
    except OSError:
        return False
    wanted = stat.S_IROTH | stat.S_IXOTH if stat.S_ISDIR(target) else stat.S_IXOTH
    return target & wanted == wanted and all(mode & stat.S_IXOTH for mode in folders)


def _unprivileged_uid(library: Path) -> tuple[int | None, str | None]:
    """A free uid of ``PROCESS_UIDS`` for a sandbox started by root, or None and why not."""
    numpy = importlib.util.find_spec("numpy")
    needed = [os.path.realpath(sys.executable), sysconfig.get_paths()["stdlib"], str(library)]
    if numpy is not None and numpy.submodule_search_locations:
        needed.append(os.path.dirname(list(numpy.submodule_search_locations)[0]))
    for path in needed:
        if not _open_to_others(path):
            return None, (f"an unprivileged user cannot reach {path}; install Python and its packages "
                          f"where every user may read them")
    running = set().union(*(uids for _, _, uids, _ in _process_table()))
    start = os.getpid() % len(PROCESS_UIDS)  # two graders on one machine start their search apart
    with _uid_lock:
        for index in range(len(PROCESS_UIDS)):
            uid = PROCESS_UIDS[(start + index) % len(PROCESS_UIDS)]
            if uid in _uids_taken or uid in running or _has_account(uid):
                continue
            _uids_taken.add(uid)
            return uid, None
    return None, f"every uid from {PROCESS_UIDS.start} to {PROCESS_UIDS.stop - 1} is in use"


def _has_account(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def _end_processes_of(uid: int, seconds: float = STOP_SECONDS) -> list[int]:
    """Kill every process running as ``uid`` (reaping those that were ours); the pids still running
    after ``seconds``, which is none unless a process cannot die (stuck in the kernel)."""
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for pid, parent, uids, state in _process_table():
            if uid not in uids:
                continue
            if state in "ZX":
                if parent == os.getpid():
                    try:
                        os.waitpid(pid, os.WNOHANG)
                    except ChildProcessError:
                        pass
                continue
            left.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.002)


def _remove_files_of(uid: int) -> None:
    """Remove what ``uid`` owns in the folders every user may write (once none of its processes is
    left): a submission that filled the disk there must not stop the grader writing its results."""
    for folder in WRITABLE_BY_ALL:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if info.st_uid != uid:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                continue


# --- bubblewrap ------------------------------------------------------------------------------------------

_isolation_lock = threading.Lock()
_isolation: dict[str, str] = {}


def _bwrap_command(library: Path, python: str, scratch_bytes: int) -> list[str]:
    command = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
               "--cap-drop", "ALL", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
               "--clearenv", "--ro-bind", "/usr", "/usr",
               "--size", str(scratch_bytes), "--tmpfs", "/tmp"]  # first: a Python under /tmp is bound over it
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives"):
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    folders = _python_folders()
    for folder in folders:
        if not folder.startswith("/usr/"):
            command += ["--ro-bind", folder, folder]
    for folder in folders:
        # Installed without -e, the course's package (its trusted half included) sits in
        # site-packages: an empty, read-only folder stands over it; the sandbox has its own copy.
        installed = os.path.join(folder, "backprop_lib")
        if os.path.isdir(installed):
            command += ["--tmpfs", installed, "--remount-ro", installed]
    # The root that bubblewrap builds is a tmpfs, and so is /dev: both are made read-only once
    # built, so that /tmp and /dev/shm are the only writable places. /proc/sys is read-only too: run
    # by root, the sandbox's uid is root's outside, which the kernel lets write its settings.
    command += ["--ro-bind", str(library), "/sandbox/lib",
                "--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys",
                "--ro-bind-try", "/proc/sysrq-trigger", "/proc/sysrq-trigger", "--dev", "/dev",
                "--size", str(scratch_bytes), "--tmpfs", "/dev/shm",
                "--remount-ro", "/dev", "--remount-ro", "/",
                "--chdir", "/tmp", python]
    return command


def bwrap_available() -> str | None:
    """None if bubblewrap can make namespaces here, else why not (one line)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        done = subprocess.run(["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--cap-drop", "ALL",
                               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                               os.path.realpath(sys.executable), "-I", "-S", "-c", "pass"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not run ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        return f"bubblewrap cannot create namespaces here ({reason[-1] if reason else 'exit ' + str(done.returncode)})"
    return None


def isolation_level() -> tuple[str, str | None]:
    """("namespaces", None) where bubblewrap works, else ("process", the reason); checked once."""
    with _isolation_lock:
        if "level" not in _isolation:
            forced = os.environ.get("BACKPROP_GRADER_ISOLATION")
            reason = "BACKPROP_GRADER_ISOLATION=process" if forced == PROCESS else None
            if reason is None and sys.platform.startswith("linux"):
                reason = bwrap_available()
            elif reason is None:
                reason = f"namespaces are a Linux feature (this is {sys.platform})"
            _isolation["level"] = PROCESS if reason else NAMESPACES
            _isolation["reason"] = reason or ""
        return _isolation["level"], _isolation["reason"] or None


# --- one worker ----------------------------------------------------------------------------------------------


class Sandbox:
    """One sandboxed worker: start it, give it jobs one at a time, read what it says."""

    def __init__(self, warm: bool = False, scratch_bytes: int = 256 * 1024**2, processes: int = 64,
                 memory_bytes: int = 3 * 1024**3):
        """``warm``: the worker imports matplotlib as it starts; otherwise ``warm_up`` replaces it with one
        that does, before the first notebook that plots."""
        self.warm = warm
        self.scratch_bytes = scratch_bytes
        self.processes, self.memory_bytes = processes, memory_bytes
        self.cap: Cap | None = None
        self.ready = False
        self.isolation, _ = isolation_level()
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.namespaces_per_job = False
        self._folder: tempfile.TemporaryDirectory | None = None
        self.uid: int | None = None  # the uid of its own that the worker runs as (root, no namespaces)
        self.root_kept: str | None = None  # why its worker kept root's uid (started by root, no namespaces)
        self.left_running: list[int] = []  # processes of its uid that would not die when it closed

    # lifecycle

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the worker without waiting for it (it imports numpy and the library meanwhile)."""
        library = sandbox_library()
        self._folder = tempfile.TemporaryDirectory(prefix="backprop-sandbox-")
        folder = Path(self._folder.name)
        ours, theirs = socket.socketpair()
        env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
        channel = {"BACKPROP_CHANNEL": str(theirs.fileno())}
        python = os.path.realpath(sys.executable)
        user: dict[str, Any] = {}
        if self.isolation == NAMESPACES:
            command = _bwrap_command(library, python, self.scratch_bytes)
            for name, value in {**env, **channel}.items():
                command[-1:-1] = ["--setenv", name, value]
            command += ["-I", "-S", "-B", "-c", BOOT]
            front, scratch, sweep = ["/sandbox/lib"], "/tmp", True
            env.update(HOME="/tmp", MPLCONFIGDIR="/tmp/.matplotlib", TMPDIR="/tmp")
            cwd = "/"
            run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            scratch_dir = folder / "scratch"
            scratch_dir.mkdir()
            command = [python, "-I", "-S", "-B", "-c", BOOT]
            front, scratch, sweep = [str(library)], str(scratch_dir), False
            env.update(HOME=scratch, MPLCONFIGDIR=str(scratch_dir / ".matplotlib"), TMPDIR=scratch,
                       PATH=os.environ.get("PATH", "/usr/bin:/bin"))
            cwd = scratch
            run_env = {**env, **channel}
            if os.geteuid() == 0:
                user.update(self._drop_root(library, folder, scratch_dir))
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env=run_env,
                                            cwd=cwd, start_new_session=True, **user)
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        below_tmp = [folder for folder in _python_folders() if folder.startswith("/tmp/")]  # bound over /tmp
        config = {"front": front, "back": _site_packages(), "env": env, "scratch": scratch, "sweep_all": sweep,
                  "bound_below_tmp": below_tmp if self.isolation == NAMESPACES else [],
                  "warm": self.warm}
        self._send(json.dumps(config).encode())
        self.ready = False

    def _drop_root(self, library: Path, folder: Path, scratch: Path) -> dict[str, Any]:
        """The Popen arguments that start the worker as a uid of its own: no supplementary group,
        and (a uid that is not 0) no capability. Its scratch folder is the one place it owns."""
        self.uid, self.root_kept = _unprivileged_uid(library)
        if self.uid is None:
            return {}
        os.chmod(folder, 0o711)
        os.chown(scratch, self.uid, self.uid)
        return {"user": self.uid, "group": self.uid, "extra_groups": []}

    def wait_ready(self) -> None:
        """Wait for the launched worker to say it is ready, then cap what it will start."""
        if self.ready:
            return
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + START_SECONDS
        try:
            kind, message = self.receive(deadline)
        except TimeoutError:
            raise SandboxError(f"the sandbox did not start within {START_SECONDS:g} s") from None
        except WorkerGone:
            raise SandboxError(f"the sandbox ended as it started (exit code {self.process.wait()})") from None
        if kind != "W" or not isinstance(message, dict) or message.get("ready") is not True:
            failed = message.get("failed") if kind == "W" and isinstance(message, dict) else None
            raise SandboxError(f"the sandbox did not start: {failed or 'it broke the protocol'}")
        self.namespaces_per_job = message.get("namespaces") is True
        # The worker has started nothing yet: whatever a job starts is born inside the cap.
        self.cap = Cap(self.processes + 8, self.memory_bytes)
        if self.cap.active and not self.cap.add(descendants(self.process.pid)):
            self.cap.remove()
        self.ready = True

    def warm_up(self) -> None:
        """A worker with matplotlib imported, for a notebook that plots: one that started without it is
        replaced by one that imports it as it starts, before any job. (Importing it later, in a worker
        whose jobs could have left a matplotlibrc or a font list where it looks, would let a submission
        reach the worker that the next submissions are forked from.)"""
        if self.warm:
            return
        self.warm = True
        self.restart()

    @property
    def capped(self) -> bool:
        """Whether processes and memory are capped for the sandbox as a whole (a control group)."""
        return self.cap is not None and self.cap.active

    def close(self) -> None:
        self.buffer = bytearray()  # what the old worker half-sent is nothing to the next one
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, 9)
                except (ProcessLookupError, PermissionError):
                    self.process.kill()
            self.process.wait()
            self.process = None
        if self.uid is not None:
            # What a job started may have left its worker's tree (killing the worker first): its uid says.
            self.left_running = _end_processes_of(self.uid)
            if not self.left_running:
                _remove_files_of(self.uid)
                with _uid_lock:
                    _uids_taken.discard(self.uid)
            self.uid = None
        if self.cap is not None:
            self.cap.remove()
            self.cap = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def restart(self) -> None:
        self.close()
        self.start()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # talking

    def _send(self, payload: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(HEADER.pack(len(payload)) + payload)
        except OSError:
            raise WorkerGone("the sandbox's worker ended") from None

    def submit(self, job: dict[str, Any]) -> None:
        payload = b"J" + pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > MAX_FRAME:
            raise SandboxError(f"a job of {len(payload):,} bytes is more than the channel takes ({MAX_FRAME:,})")
        self._send(payload)

    def kill_job(self) -> None:
        self._send(b"K")

    def receive(self, deadline: float) -> tuple[str, Any]:
        """The next frame: ("W", message) from the worker, ("C", raw bytes) relayed from the child.

        Raises ``TimeoutError`` at ``deadline`` and ``WorkerGone`` when the worker has ended.
        """
        assert self.sock is not None
        while True:
            if len(self.buffer) >= HEADER.size:
                (size,) = HEADER.unpack(self.buffer[:HEADER.size])
                if size > MAX_FRAME + 1 or size == 0:
                    raise WorkerGone("the sandbox broke the protocol (a frame of the wrong size)")
                if len(self.buffer) >= HEADER.size + size:
                    payload = bytes(self.buffer[HEADER.size:HEADER.size + size])
                    del self.buffer[:HEADER.size + size]
                    kind, body = payload[:1].decode("latin-1"), payload[1:]
                    if kind == "W":
                        try:
                            return "W", json.loads(body)
                        except (ValueError, RecursionError):
                            raise WorkerGone("the sandbox broke the protocol") from None
                    if kind == "C":
                        return "C", body
                    raise WorkerGone("the sandbox broke the protocol (an unknown frame)")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                raise WorkerGone("the sandbox's worker ended")
            self.buffer += chunk


def launch_sandboxes(count: int) -> list[Sandbox]:
    """``count`` sandboxes started at once, not waited for: their start overlaps the grader's own."""
    sandboxes = []
    for _ in range(count):
        sandbox = Sandbox()
        try:
            sandbox.launch()
        except SandboxError:
            sandbox.close()
            break
        sandboxes.append(sandbox)
    return sandboxes


def regular_file(path: Path) -> os.stat_result:
    """The status of ``path`` if it is a regular file (not a link, FIFO or device), else ``ValueError``."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ValueError("is a symbolic link; only regular files are graded")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise ValueError(f"is {kind}; only regular files are graded")
    return info
