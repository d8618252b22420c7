"""Attacks on the autograder, each a real submission graded in a batch beside honest classmates.

Every attack is an exercise-01 notebook that a hostile student could hand in. It is graded through
the command line (``grade ... --gradebook DB --jobs 2``) together with classmates who handed in
the master solution, and the tests then say what the gradebook records for the attacker, that
every classmate still has full marks, and that nothing outside the sandbox changed: the project,
site-packages, the real /tmp, /dev/shm and home folder, the classmates' notebooks, the gradebook's
other rows, and no process of the batch is left running.

The attacks that hold the grader's clock use the Python API with small limits. A test that fails
here names a defect of the grader; it stays failing until the grader is fixed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import site
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template
from textwrap import dedent

import nbformat
import pytest

from backprop_lib.grading import gradebook
from backprop_lib.grading.protocol import clean_text
from backprop_lib.grading.runner import Limits, grade_notebook
from backprop_lib.grading.sandbox import Sandbox
from test_grading_hostile import GOOD

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_computational_graphs.ipynb"
NOTEBOOK = "01_computational_graphs.ipynb"
UNSOLVED = {name: f"def {name}(*args, **kwargs):\n    raise NotImplementedError" for name in GOOD}
CLASSMATES = ("alice", "bob")



# --- building submissions --------------------------------------------------------------------------------


def source(text: str, **values: object) -> str:
    """Python source from a template; ``$name`` becomes ``repr(value)``."""
    return Template(dedent(text)).substitute({k: repr(v) for k, v in values.items()})


def write_notebook(folder: Path, cells: list[str], name: str = NOTEBOOK) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    nb.metadata["backprop_course"] = {"exercise": "01"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nb, path)
    return path


def honest(folder: Path) -> Path:
    """A copy of the master solution (8/8) in its own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOLUTION, folder / NOTEBOOK)
    return folder / NOTEBOOK


# The grader's channel, found by walking up the stack from a cell or an answer: the child's ``_run``
# holds the job (the cases' inputs) and ``out``, the pipe its frames go down.
CHANNEL = r'''
import json, os, struct, sys

def _channel():
    job = out = None
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if job is None and isinstance(value, dict) and "questions" in value and "cells" in value:
                job = value
        if out is None and isinstance(frame.f_locals.get("out"), int):
            out = frame.f_locals["out"]
        frame = frame.f_back
    if out is None:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                    out = int(fd)
            except OSError:
                pass
    return job, out

JOB, OUT = _channel()

def say(message):
    data = json.dumps(message).encode()
    os.write(OUT, struct.pack(">I", len(data)) + data)
'''


def forged_reports(value_of: str) -> str:
    """A cell that reports every question of its job with ``value_of(qid, inputs)``, says it has
    finished, and leaves before the real probes run."""
    return CHANNEL + value_of + dedent('''
        for q in JOB["questions"]:
            say({"question": q["id"]})
            say({"report": q["id"], "data": {"outcomes": [{"value": value_of(q["id"], i)} for i in q["inputs"]]}})
        say({"finished": True})
        os._exit(0)
    ''')


WRONG = '''
def value_of(qid, inputs):
    if qid.endswith("lesson_graph"):
        return {"values": {k: 42.0 for k in "abcde"},
                "edges": {e: 42.0 for e in ("a->c", "b->c", "b->d", "c->e", "d->e")}}
    return 42.0
'''

HUGE = '''
def value_of(qid, inputs):
    big = 10 ** 400  # valid JSON, and a Python int; too large for a float
    if qid.endswith("lesson_graph"):
        return {"values": {k: big for k in "abcde"},
                "edges": {e: big for e in ("a->c", "b->c", "b->d", "c->e", "d->e")}}
    return big
'''

WITH_THE_LIBRARY = '''
from backprop_lib.gradcheck import numerical_gradient
from backprop_lib.grading.probes.ex01 import FUNCTIONS

def value_of(qid, inputs):
    if qid.endswith("numerical_derivative"):  # the library's own implementation, which the probe forbids
        h = 1e-5 if inputs["h"] is None else inputs["h"]
        return float(numerical_gradient(FUNCTIONS[inputs["f"]][0], inputs["x"], h))
    if qid.endswith("lesson_graph"):
        a, b = inputs["a"], inputs["b"]
        c, d = a + b, b + 1
        return {"values": {"a": a, "b": b, "c": c, "d": d, "e": c * d},
                "edges": {"a->c": 1.0, "b->c": 1.0, "b->d": 1.0, "c->e": d, "d->e": c}}
    (f, df), (g, dg) = FUNCTIONS[inputs["f"]], FUNCTIONS[inputs["g"]]
    x = inputs["x"]
    return df(x) * g(x) + f(x) * dg(x)
'''

# Each cell breaks the order of the steps in its own way; a cell that breaks it is skipped.
DISORDER = [
    CHANNEL + 'q = JOB["questions"][0]["id"]\nsay({"report": q, "data": {"outcomes": [{"value": 42.0}]}})',
    CHANNEL + 'q = JOB["questions"][0]["id"]\nsay({"question": q})\nsay({"question": q})',
    CHANNEL + 'say({"finished": True})\nsay({"finished": True})',
    CHANNEL + 'say({"cell": 0})',
    CHANNEL + 'say({"exit": 0})\nsay({"ready": True, "namespaces": True})',
    CHANNEL + ('q = JOB["questions"][-1]\nsay({"question": q["id"]})\n'
               'say({"report": q["id"], "data": {"outcomes": [{"value": 42.0} for _ in q["inputs"]]}})'),
]


def forge_with_the_trusted_half(project: Path) -> str:
    """Import the judge's half of grading, or load it from the project by path, and swap the probe
    runner for one that answers with its references (42.0 when they cannot be had)."""
    return source(r'''
        import importlib, importlib.util, sys
        stolen = {}
        for name in ("backprop_lib.grading.ex01", "backprop_lib.grading.spec", "backprop_lib.grading.judge",
                     "backprop_lib.grading.registry", "backprop_lib.grading.runner"):
            try:
                stolen[name] = importlib.import_module(name)
            except Exception:
                pass
        try:
            import backprop_lib.grading
            stolen["EXERCISES"] = backprop_lib.grading.EXERCISES
        except Exception:
            pass
        for path in ($ex01, "/sandbox/lib/backprop_lib/grading/ex01.py"):
            try:
                spec = importlib.util.spec_from_file_location("backprop_lib.grading.ex01", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                stolen[path] = module
            except Exception:
                pass
        try:
            import __editable___backprop_course_0_1_0_finder as finder
            finder.install()
            stolen["editable"] = importlib.import_module("backprop_lib.grading.registry")
        except Exception:
            pass

        def reference(qid, inputs):
            for thing in stolen.values():
                exercises = thing if isinstance(thing, dict) else getattr(thing, "EXERCISES", None)
                exercise = getattr(thing, "EXERCISE", None) or (exercises or {}).get("01")
                for q in getattr(exercise, "questions", ()):
                    if q.id == qid:
                        return q.reference(inputs)
            return 42.0

        import backprop_lib.grading.probe as probe_module
        import backprop_lib.grading.probes as probes

        def forged_run_cases(probe, namespace, inputs):
            qid = next(k for k, v in probes.PROBES.items() if v is probe)
            return {"outcomes": [{"value": reference(qid, i)} for i in inputs]}

        def trampoline(probe, namespace, inputs):
            import __main__
            return __main__.forged_run_cases(probe, namespace, inputs)

        probe_module.run_cases.__code__ = trampoline.__code__  # the very function the worker imported
        probe_module.run_cases = forged_run_cases
        for qid, probe in list(probes.PROBES.items()):
            probes.PROBES[qid] = type(probe)((), lambda ns, i, qid=qid: reference(qid, i), ())
    ''', ex01=str(project / "backprop_lib" / "grading" / "ex01.py"))


def daemon(marker: str, db: Path, victim: Path) -> str:
    """Double fork, setsid, exec a process whose command line carries ``marker``; for six seconds it
    rewrites the gradebook, overwrites a classmate's notebook and kills every process it can name."""
    return source(r'''
        import os, sys, time
        MARK = $marker
        payload = """
        import os, signal, sqlite3, time
        end = time.time() + 6
        while time.time() < end:
            try:
                con = sqlite3.connect(%(db)r, timeout=0.1)
                con.execute("UPDATE grades SET score = 8, max_score = 8, result = '{}'")
                con.execute("DELETE FROM errors")
                con.commit()
            except Exception:
                pass
            try:
                with open(%(victim)r, "w") as f:
                    f.write(%(mark)r)
            except Exception:
                pass
            for pid in [-1, os.getppid()] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    if pid not in (0, os.getpid()):
                        os.kill(pid, signal.SIGKILL)
                except Exception:
                    pass
            time.sleep(0.1)
        """ % {"db": $db, "victim": $victim, "mark": MARK}
        first = os.fork()
        if first == 0:
            os.setsid()
            if os.fork() == 0:
                try:
                    os.execv(sys.executable, [sys.executable, "-c", payload, MARK])
                finally:
                    os._exit(0)
            os._exit(0)
        os.waitpid(first, 0)
        time.sleep(2.0)  # the daemon is at work while the submission is still being graded
    ''', marker=marker, db=str(db), victim=str(victim))


PROC_SPY = r'''
import os
gained = []
me = os.readlink("/proc/self") if os.path.islink("/proc/self") else str(os.getpid())
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit() and p != me):
    try:
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as f:
            gained.append(f"{pid}/mem opened")
            f.seek(0x400000)
            f.write(b"\xcc" * 64)
            gained.append(f"{pid}/mem written")
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            gained.append(f"{pid}/environ {f.read(40)!r}")
    except OSError:
        pass
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                with open(f"/proc/{pid}/fd/{fd}", "wb") as f:
                    f.write(b"garbage")
                gained.append(f"{pid}/fd/{fd} written")
            except OSError:
                pass
    except OSError:
        pass
raise RuntimeError(f"gained {gained}")
'''

FD_SCRIBBLER = r'''
import os, pickle
junk = [b"garbage\x00\xff" * 10, pickle.dumps({"finished": True, "score": 8}), b"\x00\x00\x00\x02{}"]
for fd in sorted(int(fd) for fd in os.listdir("/proc/self/fd")):
    for data in junk:
        try:
            os.write(fd, data)
        except OSError:
            pass
'''


def leak(secret_file: Path) -> str:
    """``_loot()``: an exception whose type name and message carry everything that might hold the
    grader's secrets."""
    return source(r'''
        import os

        def _loot():
            found = []
            def grab(label, read):
                try:
                    found.append(f"{label}={read()!r}"[:400])
                except Exception:
                    pass
            pids = ["1", str(os.getppid()), "self"] + [p for p in os.listdir("/proc") if p.isdigit()]
            for pid in pids:
                grab(f"environ{pid}", lambda: open(f"/proc/{pid}/environ", "rb").read())
                grab(f"cmdline{pid}", lambda: open(f"/proc/{pid}/cmdline", "rb").read())
            grab("os.environ", lambda: dict(os.environ))
            grab("file", lambda: open($secret).read())
            grab("folder", lambda: os.listdir(os.path.dirname($secret)))
            grab("shadow", lambda: open("/etc/shadow").read())
            grab("root", lambda: os.listdir("/root"))
            text = " ".join(found)
            name = "Leak_" + "".join(c if c.isalnum() else "_" for c in text)[:180]
            return type(name, (Exception,), {})(text)
    ''', secret=str(secret_file))


def persist(marker: str, site_dirs: list[str], init: Path, places: list[str]) -> str:
    """A .pth in every site-packages folder, a line added to the library's source, files in every
    scratch place: all of it would outlive the submission if it landed."""
    return source(r'''
        import os, site, sys
        import backprop_lib
        MARK = $marker
        folders = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p] + $site_dirs)
        for folder in folders:
            try:
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, MARK + ".pth"), "w") as f:
                    f.write(f"import os; open('/tmp/{MARK}-pth', 'w').write('{MARK}')\n")
            except OSError:
                pass
        for path in (backprop_lib.__file__, $init):
            try:
                with open(path, "a") as f:
                    f.write(f"\nopen('/tmp/{MARK}-import', 'w').write('{MARK}')\n")
            except OSError:
                pass
        for folder in ["/tmp", os.environ.get("HOME", "/tmp"), "/dev/shm", os.getcwd(), "/var/tmp"] + $places:
            try:
                with open(os.path.join(folder, MARK), "w") as f:
                    f.write(MARK)
            except OSError:
                pass
    ''', marker=marker, site_dirs=site_dirs, init=str(init), places=places)


# Every place a submission can name inside the sandbox, outside its scratch folder too.
SANDBOX_PLACES = ["/", "/etc", "/root", "/sandbox", "/dev", "/dev/shm", "/tmp", "/var/tmp"]


def leave_behind(marker: str) -> str:
    return source(r'''
        import os
        for folder in $places + [os.environ.get("HOME", "/tmp"), os.getcwd()]:
            try:
                with open(os.path.join(folder, $marker), "w") as f:
                    f.write("left behind")
            except OSError:
                pass
    ''', places=SANDBOX_PLACES, marker=marker)


def look_for_leftovers(marker: str) -> str:
    return source(r'''
        import os
        found = []
        for folder in $places + [os.environ.get("HOME", "/tmp"), os.getcwd()]:
            try:
                if $marker in os.listdir(folder):
                    found.append(folder)
            except OSError:
                pass
        raise RuntimeError(f"left behind: {sorted(set(found))}")
    ''', places=SANDBOX_PLACES, marker=marker)


# Text that would redraw a terminal, retitle its window, overwrite a line, break UTF-8 or reverse text.
NASTY = r"\x1b[2J\x1b]0;title\x07\r\rgot you \ud800 \u202eelif.exe"

ESCAPES = [
    r'''
class Evil(Exception):
    pass
Evil.__name__ = Evil.__qualname__ = "\x1b[31mEvil\x07\r\u202e"
raise Evil("''' + NASTY + '''")
''',
    r'''
class Sly:
    def __float__(self):
        raise Evil("''' + NASTY + '''")

def numerical_derivative(f, x, h=1e-5):
    raise Evil("''' + NASTY + '''")

def product_rule(f, df, g, dg, x):
    return Sly()
''',
    CHANNEL + r'''
def lesson_graph(a, b):
    q = next(q for q in JOB["questions"] if q["id"] == "01.lesson_graph")
    value = {"\x1b[2J": "\r\ud800", "\u202ekey\x07": ["\x1b]0;title\x07"], "a\rb": 1.0}
    say({"report": q["id"], "data": {"outcomes": [{"value": value} for _ in q["inputs"]]}})
    return {}, {}
''',
]

UNSAFE = re.compile("[\x1b\x07\r\u202e\ud800-\udfff]")


# --- what must not change ----------------------------------------------------------------------------------


def _sha(path: Path | str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _site_dirs() -> list[str]:
    folders = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return [f for f in dict.fromkeys(os.path.realpath(f) for f in folders) if os.path.isdir(f)]


SITE_DIRS = _site_dirs()
USER_SITE = site.getusersitepackages()
LIBRARY_FILES = [Path(SITE_DIRS[0]) / "numpy" / "__init__.py", Path(os.__file__),
                 *sorted(Path(SITE_DIRS[0]).glob("__editable__*"))]
SKIPPED_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".benchmarks", ".ipynb_checkpoints"}
# Project files the attacks aim at (by path, or as the source of the classmates' notebooks).
PROTECTED = ["backprop_lib/__init__.py", "solutions/01_computational_graphs.ipynb",
             "exercises/01_computational_graphs.ipynb"]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("tmp")]
        for name in files:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (info.st_mtime_ns, info.st_size)
    return found


def _scratch_places() -> list[str]:
    return ["/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~")]


class World:
    """A snapshot of what no submission may change; ``changes()`` lists what did.

    Other people edit the project while these tests run, so in the project tree only the files the
    attacks aim at are compared byte for byte; any other changed file counts only if it carries the
    attack's marker. Everything else (site-packages, scratch places, given files) is compared exactly.
    """

    def __init__(self, marker: str, files: list[Path], cwd: Path):
        self.marker, self.cwd = marker, cwd
        self.tree = _tree(ROOT)
        self.protected = {p: _sha(ROOT / p) for p in PROTECTED}
        self.site = {d: sorted(os.listdir(d)) for d in SITE_DIRS}
        self.pth = {str(p): _sha(p) for d in SITE_DIRS for p in Path(d).glob("*.pth")}
        self.libraries = {str(p): (p.stat().st_mtime_ns, _sha(p)) for p in LIBRARY_FILES if p.exists()}
        self.user_site = os.path.exists(USER_SITE)
        self.files = {str(p): _sha(p) for p in files}
        self.cwd_entries = sorted(os.listdir(cwd))

    def changes(self) -> list[str]:
        mark = self.marker.encode()
        found = []
        for rel, digest in self.protected.items():
            if _sha(ROOT / rel) != digest:
                found.append(f"project file {rel} changed")
        for rel, info in _tree(ROOT).items():
            if self.tree.get(rel) != info and info[1] < 64 * 1024**2:
                try:
                    if mark in (ROOT / rel).read_bytes():
                        found.append(f"project file {rel} now carries the attack's marker")
                except OSError:
                    pass
        for folder, names in self.site.items():
            now = sorted(os.listdir(folder))
            if now != names:
                found.append(f"{folder}: entries added {sorted(set(now) - set(names))} "
                             f"removed {sorted(set(names) - set(now))}")
        pth = {str(p): _sha(p) for d in SITE_DIRS for p in Path(d).glob("*.pth")}
        if pth != self.pth:
            found.append(f".pth files changed: {sorted(set(pth.items()) ^ set(self.pth.items()))}")
        for path, (mtime, digest) in self.libraries.items():
            if not os.path.exists(path) or (Path(path).stat().st_mtime_ns, _sha(path)) != (mtime, digest):
                found.append(f"library file {path} changed")
        if os.path.exists(USER_SITE) and not self.user_site:
            found.append(f"{USER_SITE} was created")
        for path, digest in self.files.items():
            if _sha(path) != digest:
                found.append(f"{path} changed")
        for place in _scratch_places():
            try:
                names = os.listdir(place)
            except OSError:
                continue
            found += [f"{place}/{n} appeared" for n in names if self.marker in n]
        if sorted(os.listdir(self.cwd)) != self.cwd_entries:
            found.append(f"the grader's working folder changed: {sorted(os.listdir(self.cwd))}")
        return found


# --- processes -------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent, start time) of a process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), fields[19].decode()


def _below(root: int) -> set[tuple[int, str]]:
    """The processes below ``root``, each as (pid, start time) so that a reused pid is not mistaken."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            children.setdefault(info[1], []).append((int(entry), info[2]))
    found, todo = set(), [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            found.add((pid, start))
            todo.append(pid)
    return found


def _peak_bytes(pid: int) -> int:
    """The peak resident memory of a live process (its VmHWM), or 0."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _alive(pid: int, start: str) -> bool:
    info = _stat(pid)
    return info is not None and info[2] == start and info[0] not in ("Z", "X")


def _carrying(marker: str) -> list[int]:
    """Live processes whose command line carries ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    info = _stat(int(entry))
                    if info and info[0] not in ("Z", "X"):
                        found.append(int(entry))
            except OSError:
                pass
    return found


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    seen: set[tuple[int, str]]  # every process seen below the grader while it ran
    marked: bool = False  # whether a process carrying the attack's marker was seen while it ran
    peak_bytes: int = 0  # the grader's own peak resident memory (VmHWM), as last seen while it ran

    @property
    def out(self) -> str:
        return self.stdout.decode()

    @property
    def err(self) -> str:
        return self.stderr.decode()

    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


def run_grader(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
               marker: str | None = None) -> Run:
    """``python -m backprop_lib ARGS``, watching every process it starts (and any carrying ``marker``)."""
    environment = {k: v for k, v in os.environ.items() if k != "BACKPROP_GRADER_ISOLATION"}
    environment.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "backprop_lib", *args], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=environment)
        seen: set[tuple[int, str]] = set()
        marked = False
        peak = 0
        while proc.poll() is None:
            marked = marked or bool(marker and _carrying(marker))
            peak = max(peak, _peak_bytes(proc.pid))
            if time.monotonic() - started > timeout:
                proc.kill()
                proc.wait()
                pytest.fail(f"the grader ran longer than {timeout} s")
            seen |= _below(proc.pid)
            time.sleep(0.05)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read(), err.read(), seconds, seen, marked, peak)


def assert_nothing_left_running(run: Run, marker: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (any(_alive(*p) for p in run.seen) or _carrying(marker)):
        time.sleep(0.05)
    left = [pid for pid, start in run.seen if _alive(pid, start)]
    marked = _carrying(marker)
    for pid in set(left) | set(marked):  # all started by this test's grader: do not leave them to the suite
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    assert not left, f"{len(left)} processes of the batch outlived it"
    assert not marked, f"processes carrying the attack's marker are alive: {marked}"


# --- a class with a gradebook -------------------------------------------------------------------------------


class Classroom:
    """Honest classmates, a gradebook that already holds an older grade, and a snapshot of the world."""

    def __init__(self, root: Path, marker: str | None = None):
        self.root = root
        self.marker = marker or f"pwned{uuid.uuid4().hex[:12]}"
        self.db = root / "grades.db"
        self.feedback = root / "feedback"
        self.cwd = root / "cwd"
        self.cwd.mkdir(parents=True)
        self.classmates = [honest(root / name) for name in CLASSMATES]
        with gradebook.connect(self.db) as db:  # a student graded last week
            gradebook.record(db, {"student": "veteran", "exercise": "01", "score": 5.0, "max_score": 8,
                                  "questions": [], "flags": []}, "0" * 64, "/class/veteran/01.ipynb")
        self.veteran = self._veteran()
        self.world: World | None = None
        self.watched: list[Path] = list(self.classmates)

    def _veteran(self) -> list[tuple]:
        with sqlite3.connect(self.db) as con:
            return con.execute("SELECT * FROM grades WHERE student = 'veteran'").fetchall()

    def attacker(self, who: str, *cells: str, **answers: str) -> Path:
        """An exercise-01 notebook of ``cells`` and then the answers (not implemented unless given)."""
        return write_notebook(self.root / who, [*cells, *{**UNSOLVED, **answers}.values()])

    def snapshot(self, *files: Path) -> None:
        self.watched += list(files)
        self.world = World(self.marker, self.watched, self.cwd)

    def grade(self, *paths: Path, jobs: int = 2, env: dict[str, str] | None = None, classmates: bool = True) -> Run:
        """A batch of ``paths`` and then the classmates' notebooks into the gradebook."""
        if self.world is None:
            self.snapshot()
        every = [*paths, *(self.classmates if classmates else [])]
        return run_grader("grade", *map(str, every), "--gradebook", str(self.db), "--jobs", str(jobs), "--json",
                          "--feedback", str(self.feedback), cwd=self.cwd, env=env, marker=self.marker)

    def result(self, student: str) -> dict:
        with sqlite3.connect(self.db) as con:
            row = con.execute("SELECT result FROM grades WHERE student = ?", (student,)).fetchone()
            errors = con.execute("SELECT path, message FROM errors").fetchall()
        assert row is not None, f"no grade recorded for {student}; errors: {errors}"
        return json.loads(row[0])

    def errors(self) -> dict[str, str]:
        with sqlite3.connect(self.db) as con:
            return dict(con.execute("SELECT path, message FROM errors").fetchall())

    def assert_classmates_full_marks(self) -> None:
        for path in self.classmates:
            result = self.result(path.parent.name)
            assert result["score"] == result["max_score"] == 8, result
            assert {q["status"] for q in result["questions"]} == {"passed"}

    def assert_untouched(self, run: Run) -> None:
        """Nothing outside the sandbox changed and nothing of the batch is left running."""
        assert_nothing_left_running(run, self.marker)
        assert self.world is not None
        assert self.world.changes() == []
        assert self._veteran() == self.veteran, "an older row of the gradebook changed"


def statuses(result: dict) -> dict[str, str]:
    return {q["id"].split(".")[1]: q["status"] for q in result["questions"]}


def flagged(result: dict, words: str) -> bool:
    return any(words in flag for flag in result["flags"])


@pytest.fixture(scope="class")
def classroom_factory(tmp_path_factory):
    def make(name: str) -> Classroom:
        return Classroom(tmp_path_factory.mktemp(name))
    return make


# --- 1 and 2: forging a score -----------------------------------------------------------------------------


class TestForgery:
    """Submissions that try to write their own grade instead of earning it."""

    @pytest.fixture(scope="class")
    def batch(self, classroom_factory, namespaces):
        room = classroom_factory("forgery")
        attackers = {
            "trusted": room.attacker("trusted", forge_with_the_trusted_half(ROOT)),
            "wrong": room.attacker("wrong", forged_reports(WRONG)),
            **{f"disorder{i}": room.attacker(f"disorder{i}", cell) for i, cell in enumerate(DISORDER)},
            "huge": room.attacker("huge", forged_reports(HUGE)),
            "library": room.attacker("library", forged_reports(WITH_THE_LIBRARY)),
        }
        run = room.grade(*attackers.values())
        return room, run

    def test_the_batch_finishes_and_every_classmate_keeps_full_marks(self, batch):
        room, run = batch
        assert run.returncode == 0, run.err
        assert "Traceback" not in run.err
        room.assert_classmates_full_marks()
        room.assert_untouched(run)

    def test_the_trusted_half_cannot_be_imported_so_a_swapped_probe_runner_earns_nothing(self, batch):
        """Attack: import ex01/spec/judge/registry (or load ex01.py by its path in the project) and
        replace the probe runner, in place, with one that answers with the reference answers."""
        room, _ = batch
        result = room.result("trusted")
        assert result["score"] == 0, result["questions"]
        assert "passed" not in statuses(result).values()
        assert flagged(result, "the grading package")

    def test_frames_forged_from_the_stack_with_wrong_values_earn_nothing(self, batch):
        """Attack: walk up the stack to the job and the output pipe, report every question itself
        (well framed), announce the end and leave with os._exit(0)."""
        room, _ = batch
        result = room.result("wrong")
        assert result["score"] == 0
        assert set(statuses(result).values()) == {"failed"}
        assert flagged(result, "interpreter frames")

    def test_frames_out_of_order_duplicated_or_posing_as_the_worker_are_noted_and_earn_nothing(self, batch):
        """Attack: a report before its question, a question twice, the end twice, a past cell again,
        the worker's own words (exit, ready), and a report for the last question out of turn."""
        room, _ = batch
        for i in range(len(DISORDER)):
            result = room.result(f"disorder{i}")
            assert result["score"] == 0, (i, result["questions"])
            assert flagged(result, "malformed message") and flagged(result, "interpreter frames"), (i, result["flags"])

    def test_a_forged_number_too_large_for_a_float_is_judged_not_a_grader_error(self, batch):
        """Attack: forged reports whose values are 10**400, a valid JSON number that ``float()``
        cannot hold. The judge must score them (0) and not stop with an error."""
        room, run = batch
        assert not any("huge" in e and "grader error" in e for e in run.errors()), run.errors()
        result = room.result("huge")
        assert result["score"] == 0
        assert set(statuses(result).values()) == {"failed"}

    def test_answers_computed_with_the_library_and_forged_as_frames_are_graded_and_flagged(self, batch,
                                                                                        record_property):
        """A documented limit: an answer computed with the library's own implementation and reported
        through forged frames bypasses the probe's watch on forbidden functions. It is graded and
        flagged for the instructor; what it scores is recorded, not asserted."""
        room, _ = batch
        result = room.result("library")
        assert flagged(result, "interpreter frames")
        record_property("library_forger", json.dumps({"score": result["score"], "statuses": statuses(result)}))


# --- 3, 5 and 6: reaching out of the sandbox --------------------------------------------------------------


class TestReachingOut:
    """Submissions that try to reach the grader, the gradebook, the classmates and the grader's secrets."""

    SECRET = f"hunter2-{uuid.uuid4().hex}"

    @pytest.fixture(scope="class")
    def batch(self, classroom_factory, namespaces):
        room = classroom_factory("reach")
        secret_file = room.db.parent / "secret.txt"
        secret_file.write_text(self.SECRET)
        victim = room.classmates[0]
        attackers = [
            room.attacker("daemon", daemon(room.marker, room.db, victim)),
            room.attacker("groupkiller", *["import os, signal\nos.kill(0, signal.SIGKILL)"] * 6, **GOOD),
            room.attacker("procspy", PROC_SPY, FD_SCRIBBLER, numerical_derivative=GOOD["numerical_derivative"]),
            room.attacker("leaker", leak(secret_file), "raise _loot()",
                          product_rule="def product_rule(f, df, g, dg, x):\n    raise _loot()"),
        ]
        room.snapshot(secret_file)
        run = room.grade(*attackers, env={"GRADER_SECRET": self.SECRET})
        time.sleep(1.5)  # what a sleeping daemon would do next
        return room, run

    def test_the_batch_finishes_and_every_classmate_keeps_full_marks(self, batch):
        room, run = batch
        assert run.returncode == 0, run.err
        assert json.loads(run.out) == {"graded": 6, "skipped": 0, "errors": 0}
        room.assert_classmates_full_marks()

    def test_a_daemon_that_outlives_its_submission_changes_nothing_and_is_gone(self, batch):
        """Attack: double fork and setsid, then for seconds rewrite the gradebook (its real path),
        overwrite a classmate's notebook (its real path) and kill every process it can name."""
        room, run = batch
        assert run.marked, "the daemon never ran: the attack did not happen"
        room.assert_untouched(run)
        assert room.result("daemon")["score"] == 0
        with sqlite3.connect(room.db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def test_cells_that_signal_their_own_process_group_cost_those_cells_only(self, batch):
        """Attack (or a careless clean-up such as ``os.killpg(os.getpgid(0), SIGTERM)``): six
        top-level cells each SIGKILL their own process group. Like ``os._exit`` that may cost those
        cells, never the answers after them. (Whether the grader learns which cell it was is a race
        with the worker's death; six cells make a pass by luck unlikely while the worker is in reach.)"""
        room, _ = batch
        result = room.result("groupkiller")
        assert result["score"] == 8, (result["cell_errors"], [q["feedback"] for q in result["questions"]])

    def test_proc_memory_environ_and_stray_descriptors_gain_nothing(self, batch):
        """Attack: open /proc/<pid>/mem for writing, /proc/<pid>/environ and /proc/<pid>/fd/* of every
        visible process, then write garbage and a pickle to every descriptor of its own."""
        room, run = batch
        result = room.result("procspy")
        assert result["cell_errors"][0] == "cell 1: RuntimeError: gained []", result["cell_errors"]
        assert "cell 2 broke the grader's protocol and was skipped" in result["cell_errors"]
        assert result["score"] == 3 and statuses(result)["numerical_derivative"] == "passed"
        assert flagged(result, "/proc") and flagged(result, "malformed message")
        room.assert_untouched(run)

    def test_the_graders_secrets_reach_neither_gradebook_nor_feedback_nor_output(self, batch):
        """Attack: read /proc/1/environ, the parent's environ, os.environ, a secret file beside the
        gradebook, /etc/shadow and /root, and carry it all out in an exception's type and message."""
        room, run = batch
        result = room.result("leaker")
        assert result["score"] == 0 and statuses(result)["product_rule"] == "failed", result
        assert "Leak_" in json.dumps(result), "the attack did not report what it found"
        secret = self.SECRET.encode()
        places = {"stdout": run.stdout, "stderr": run.stderr}
        for path in [*room.feedback.iterdir(), *room.db.parent.glob("grades.db*")]:
            places[str(path)] = path.read_bytes()
        assert [name for name, data in places.items() if secret in data] == []


# --- 4: persistence ----------------------------------------------------------------------------------------


class TestPersistence:
    """Submissions that try to leave something behind for later submissions and later batches."""

    def test_nothing_a_submission_writes_reaches_a_later_batch_or_the_machine(self, tmp_path, namespaces):
        """Attack: a .pth in every site-packages folder, a line added to backprop_lib/__init__.py (by
        ``__file__`` and by its real path), files in /tmp, $HOME, /dev/shm, the working folder and the
        real scratch places; then a second batch of honest notebooks is graded."""
        room = Classroom(tmp_path)
        places = [*_scratch_places(), str(room.cwd)]
        attacker = room.attacker("persister", persist(room.marker, SITE_DIRS, ROOT / "backprop_lib" / "__init__.py",
                                                      places), **GOOD)
        first = room.grade(attacker)
        assert first.returncode == 0, first.err
        assert room.result("persister")["score"] == 8  # its own answers still count
        room.assert_classmates_full_marks()
        room.assert_untouched(first)
        later = [honest(tmp_path / name) for name in ("carol", "dave")]
        second = room.grade(*later, classmates=False)
        assert json.loads(second.out) == {"graded": 2, "skipped": 0, "errors": 0}, second.err
        for path in later:
            assert room.result(path.parent.name)["score"] == 8
        room.assert_untouched(second)

    def test_a_submission_leaves_nothing_for_the_next_one_in_the_same_worker(self, tmp_path, namespaces):
        """Attack: write a file into every folder of the sandbox that can be named (/, /etc, /root,
        /sandbox, /dev, /dev/shm, /tmp, $HOME, the working folder); the next submission graded by
        the same worker (--jobs 1, so the order is known) looks for them."""
        room = Classroom(tmp_path)
        writer = room.attacker("writer", leave_behind(room.marker))
        reader = room.attacker("reader", look_for_leftovers(room.marker))
        run = room.grade(writer, reader, jobs=1)
        assert run.returncode == 0, run.err
        room.assert_classmates_full_marks()
        room.assert_untouched(run)
        assert room.result("reader")["cell_errors"] == ["cell 1: RuntimeError: left behind: []"]

    def test_memory_a_submission_leaves_behind_does_not_starve_the_next_classmate(self, tmp_path, namespaces):
        """Attack: fill the sandbox's own folders (outside the per-submission /tmp) with 640 MB of
        files. A classmate graded next by the same worker, whose correct answer needs 400 MB (well
        within the per-process limit), must still earn full marks. (Python API: a sandbox capped at
        1 GiB keeps this small; the batch's default cap is 3 GiB.)"""
        filler = source(r'''
            block = b"x" * (16 * 1024**2 - 1)
            folders = ("/", "/etc", "/root", "/sandbox", "/dev")
            for i in range(40):  # 640 MB in all: less than the cap, so the worker itself lives on
                try:
                    with open(f"{folders[i % len(folders)]}/fill{i}", "wb") as f:
                        f.write(block)
                except OSError:
                    pass
        ''')

        hungry = ("def product_rule(f, df, g, dg, x):\n    block = b'x' * (400 * 1024**2)\n"
                  "    return df(x) * g(x) + f(x) * dg(x) + 0 * len(block)")
        attacker = write_notebook(tmp_path / "filler", [filler, *UNSOLVED.values()])
        classmate = write_notebook(tmp_path / "hungry", [*{**GOOD, "product_rule": hungry}.values()])
        limits = Limits(cell_seconds=20, question_seconds=10, grace_seconds=2)
        with Sandbox(memory_bytes=1024**3) as sandbox:
            if not sandbox.capped:
                pytest.skip("no control group can be made here: the sandbox's memory is not capped as a whole")
            alone = grade_notebook(classmate, seed=1, limits=limits, sandbox=sandbox)
            grade_notebook(attacker, seed=1, limits=limits, sandbox=sandbox)
            after = grade_notebook(classmate, seed=1, limits=limits, sandbox=sandbox)
        assert alone.score == 8, [q.feedback for q in alone.questions]
        assert after.score == 8, [q.feedback for q in after.questions]

    def test_a_matplotlibrc_a_submission_plants_reaches_no_later_notebook_that_plots(self, tmp_path):
        """Attack: a notebook that never plots writes a matplotlibrc (a 7.5-point default line width)
        and a forged font list into every place matplotlib looks: the working folder, $HOME,
        $MPLCONFIGDIR, ~/.config/matplotlib, /tmp/.matplotlib and the sandbox's own folders. The next
        notebook, graded by the same sandbox, plots: its worker must import matplotlib before any
        job has run, so it sees matplotlib's own defaults."""
        planter = source(r'''
            import json, os
            rc = "lines.linewidth: 7.5\\n"
            places = {".", os.environ.get("HOME", "."), os.environ.get("MPLCONFIGDIR", "."), "/tmp",
                      "/tmp/.matplotlib", os.path.expanduser("~/.config/matplotlib"), "/sandbox", "/"}
            for place in places:
                try:
                    os.makedirs(place, exist_ok=True)
                    with open(os.path.join(place, "matplotlibrc"), "w") as f:
                        f.write(rc)
                    with open(os.path.join(place, "fontlist-v390.json"), "w") as f:
                        json.dump({"_version": "forged"}, f)
                except OSError:
                    pass
        ''')
        plots = ("import sys\nimport matplotlib\nassert 'matplotlib.pyplot' in sys.modules, 'not imported first'\n"
                 "assert matplotlib.rcParams['lines.linewidth'] == 1.5, matplotlib.rcParams['lines.linewidth']")
        attacker = write_notebook(tmp_path / "planter", [planter, *GOOD.values()])
        classmate = write_notebook(tmp_path / "plotter", [plots, *GOOD.values()])
        limits = Limits(cell_seconds=20, question_seconds=10, grace_seconds=2)
        with Sandbox() as sandbox:
            planted = grade_notebook(attacker, seed=1, limits=limits, sandbox=sandbox)
            after = grade_notebook(classmate, seed=1, limits=limits, sandbox=sandbox)
        assert planted.score == 8 and planted.cell_errors == []
        assert after.score == 8 and after.cell_errors == [], after.cell_errors


# --- 7 and 9: what the grader prints and reads ---------------------------------------------------------------


def _terminal_safe(name: str, data: bytes) -> list[str]:
    """What in ``data`` could redraw a terminal, retitle it, overwrite a line or break UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{name}: not UTF-8 ({exc})"]
    return [f"{name}: {m.group()!r} at {m.start()}: {text[max(0, m.start() - 40):m.start() + 20]!r}"
            for m in UNSAFE.finditer(text)][:3]


def _strings(x) -> list[str]:
    if isinstance(x, str):
        return [x]
    if isinstance(x, dict):
        return [s for k, v in x.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(x, list):
        return [s for v in x for s in _strings(v)]
    return []


class TestOutput:
    """What a submission can make the grader print or store, and inputs that are not notebooks at all."""

    @pytest.fixture(scope="class")
    def escapes(self, classroom_factory, namespaces):
        room = classroom_factory("escapes")
        folder = "mallory\x1b[2J\x07\r\u202e"
        attacker = write_notebook(room.root / folder, ESCAPES)
        quiet = write_notebook(room.root / "trudy", ESCAPES[:2])  # no forged frames: every answer runs
        bad_name = room.root / os.fsdecode(b"bad\xff\x1b]0;title\x07\r\xe2\x80\xae.ipynb")
        bad_name.write_bytes(b"")
        batch = room.grade(attacker, quiet, bad_name)
        single = run_grader("grade", str(attacker), "--feedback", str(room.root / "feedback-single"), cwd=room.cwd)
        return room, clean_text(folder, 200), batch, single

    def test_escapes_in_messages_names_and_keys_reach_no_terminal_file_or_gradebook(self, escapes):
        """Attack: exception type names and messages, a returned object's ``__float__``, a forged
        report's dict keys and values, a folder name and a file name, all carrying ESC sequences,
        BEL, CR, a lone surrogate and a right-to-left override."""
        room, student, batch, single = escapes
        assert batch.returncode == 0 and single.returncode == 0, (batch.err, single.err)
        assert "Traceback" not in batch.err + single.err
        found = []
        for name, run in (("batch", batch), ("single", single)):
            found += _terminal_safe(f"{name} stdout", run.stdout) + _terminal_safe(f"{name} stderr", run.stderr)
        for folder in (room.feedback, room.root / "feedback-single"):
            for path in folder.iterdir():
                found += _terminal_safe(str(path), path.read_bytes())
                assert not UNSAFE.search(path.name)
        with sqlite3.connect(room.db) as con:
            for who, where, stored in con.execute("SELECT student, path, result FROM grades").fetchall():
                found += [f"gradebook: {s!r}" for s in [who, where, *_strings(json.loads(stored))] if UNSAFE.search(s)]

            for path, message in con.execute("SELECT path, message FROM errors").fetchall():
                found += [f"gradebook errors: {s!r}" for s in (path, message) if UNSAFE.search(s)]
        assert found == []
        result = room.result(student)
        assert result["score"] == 0 and result["cell_errors"]
        assert "Evil" in json.dumps(result) and "got you" in json.dumps(result), "the attack did not get through"
        quiet = room.result("trudy")
        assert "got you" in {q["id"]: q["feedback"] for q in quiet["questions"]}["01.product_rule"]
        room.assert_classmates_full_marks()
        room.assert_untouched(batch)

    @pytest.fixture(scope="class")
    def bad_inputs(self, classroom_factory, namespaces):
        room = classroom_factory("inputs")
        root = room.root
        bad: dict[str, Path] = {}
        (root / "fifo").mkdir()
        bad["fifo"] = root / "fifo" / NOTEBOOK
        os.mkfifo(bad["fifo"])
        (root / "zero").mkdir()
        bad["zero"] = root / "zero" / NOTEBOOK
        bad["zero"].symlink_to("/dev/zero")
        (root / "copycat").mkdir()
        bad["link"] = root / "copycat" / NOTEBOOK
        bad["link"].symlink_to(room.classmates[0])
        (root / "big").mkdir()
        bad["big"] = root / "big" / NOTEBOOK
        bad["big"].write_bytes(b" " * 20_000_000)
        (root / "deep").mkdir()
        bad["deep"] = root / "deep" / NOTEBOOK
        bad["deep"].write_text('{"cells": [{"cell_type": "code", "source": "", "metadata": {"x": '
                               + "[" * 100_000 + "]" * 100_000 + '}}], "metadata": {}, "nbformat": 4}')
        (root / "empty").mkdir()
        bad["empty"] = root / "empty" / NOTEBOOK
        bad["empty"].write_bytes(b"")
        bad["directory"] = root / "directory" / NOTEBOOK
        bad["directory"].mkdir(parents=True)
        (root / "garbage").mkdir()
        bad["garbage"] = root / "garbage" / NOTEBOOK
        bad["garbage"].write_bytes(b"\xff\xfe\x00\xc3\x28{\"cells\"\x80")
        twice = [honest(root / "twice"), root / "twice" / "01_again.ipynb"]
        shutil.copy(twice[0], twice[1])
        bad["twice-1"], bad["twice-2"] = twice
        first = room.grade(*bad.values())
        again = room.grade(*bad.values())
        return room, bad, first, again

    def test_bad_inputs_get_one_clear_line_each_and_the_classmates_are_graded(self, bad_inputs):
        """Inputs: a FIFO, a link to /dev/zero, a link to a classmate's notebook, 20 MB, 100 000
        nested lists, an empty file, a directory, invalid UTF-8, and one student's two notebooks of
        the same exercise."""
        room, bad, first, _ = bad_inputs
        assert first.returncode == 0, first.err
        assert "Traceback" not in first.err
        assert json.loads(first.out) == {"graded": 2, "skipped": 0, "errors": len(bad)}
        lines = first.errors()
        assert len(lines) == len(bad), lines
        for what, path in bad.items():
            assert any(line.startswith(f"error: {path}") for line in lines), (what, lines)
        room.assert_classmates_full_marks()
        room.assert_untouched(first)

    def test_the_same_batch_again_completes_and_skips_what_is_graded(self, bad_inputs):
        """The same batch graded again does not stop where it stopped before: the same one line per
        bad input, the classmates skipped as already graded."""
        room, bad, first, again = bad_inputs
        assert again.returncode == 0 and "Traceback" not in again.err, again.err
        assert json.loads(again.out) == {"graded": 0, "skipped": 2, "errors": len(bad)}
        assert sorted(again.errors()) == sorted(first.errors())
        room.assert_classmates_full_marks()

    def test_a_link_to_a_classmates_notebook_puts_no_error_on_the_classmates_record(self, bad_inputs):
        """Attack: hand in a symbolic link to a classmate's notebook. It is refused; the refusal must
        be recorded under the link's own path, never under the classmate's notebook."""
        room, bad, _, _ = bad_inputs
        errors = room.errors()
        classmate = str(room.classmates[0].resolve())
        assert classmate not in errors, f"the gradebook records for {classmate}: {errors.get(classmate)}"

    def test_a_folder_linked_to_a_classmates_folder_cannot_stop_the_classmates_grade(self, tmp_path, namespaces):
        """Attack: the attacker's folder is a symbolic link to a classmate's folder, so the batch is
        handed the classmate's notebook under a second name. The classmate must still be graded (the
        notebook once, or the link refused), never refused as a duplicate of itself."""
        room = Classroom(tmp_path)
        (tmp_path / "mallory").symlink_to(tmp_path / "alice", target_is_directory=True)
        run = room.grade(tmp_path / "mallory" / NOTEBOOK)
        assert run.returncode == 0 and "Traceback" not in run.err, run.err
        room.assert_untouched(run)
        room.assert_classmates_full_marks()

    def test_process_isolation_warns_once_says_so_and_can_be_refused(self, tmp_path):
        """Grading without namespaces (BACKPROP_GRADER_ISOLATION=process) says so once on stderr and in
        every result; --require-isolation refuses to grade at all."""
        room = Classroom(tmp_path)
        forced = {"BACKPROP_GRADER_ISOLATION": "process"}
        run = room.grade(env=forced)
        assert run.returncode == 0, run.err
        assert [line for line in run.err.splitlines() if line.startswith("warning:")] == \
            [line for line in run.err.splitlines() if "process isolation only" in line]
        assert len([line for line in run.err.splitlines() if line.startswith("warning:")]) == 1
        assert "error:" not in run.err
        assert {room.result(name)["isolation"] for name in CLASSMATES} == {"process"}
        room.assert_classmates_full_marks()
        strict = Classroom(tmp_path / "strict")
        refused = run_grader("grade", *map(str, strict.classmates), "--gradebook", str(strict.db),
                             "--require-isolation", "--json", cwd=strict.cwd, env=forced)
        assert refused.returncode == 2
        assert len(refused.err.strip().splitlines()) == 1 and refused.err.startswith("error: --require-isolation")
        assert "nothing graded" in refused.err and refused.stdout == b""
        with sqlite3.connect(strict.db) as con:
            assert [r[0] for r in con.execute("SELECT student FROM grades")] == ["veteran"]


# --- 8 and 10: holding the grader --------------------------------------------------------------------------


HOLD = Limits(cell_seconds=0.5, question_seconds=0.5, grace_seconds=0.5, submission_seconds=5)
DEAF = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"

HOLDERS = {
    # a cell that defines an answer and then re-announces itself every 0.2 s
    "re-announces its cell": ([CHANNEL + GOOD["product_rule"] + "\nimport time\nwhile True:\n"
                               "    say({'cell': 0})\n    time.sleep(0.2)\n"], {}, "cell"),
    # a cell deaf to the alarm that keeps sending well-formed messages that do not advance (a heartbeat)
    "sends a heartbeat": ([CHANNEL + GOOD["product_rule"] + "\n" + DEAF + "while True:\n"
                           "    say({'cell_error': 0, 'error': 'still busy'})\n    time.sleep(0.2)\n"], {}, "cell"),

    # a cell that ignores the alarm and sleeps in a loop
    "sleeps deaf to the alarm": ([GOOD["product_rule"] + "\n" + DEAF + "while True:\n    time.sleep(0.1)\n"], {},
                                 "cell"),
    # an answer that ignores the alarm and sleeps in a loop
    "answers deaf to the alarm": ([], {"product_rule": "def product_rule(f, df, g, dg, x):\n    " +
                                       DEAF.replace("\n", "\n    ") + "while True:\n        time.sleep(0.1)"},
                                  "question"),
    # an answer that re-announces its own question every 0.2 s
    "re-announces its question": ([CHANNEL], {"product_rule": "import time\ndef product_rule(f, df, g, dg, x):\n"
                                              "    while True:\n        say({'question': '01.product_rule'})\n"
                                              "        time.sleep(0.2)"}, "question"),
    # a cell that blocks the alarm (rather than ignoring it) and then waits in C on a pipe nobody writes
    "blocks the alarm and reads an empty pipe": ([GOOD["product_rule"] + "\nimport os, signal\n"
                                                  "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
                                                  "r, w = os.pipe()\nos.read(r, 1)\n"], {}, "cell"),
    # an answer that loops in C without ever returning to the interpreter, where the alarm's handler runs
    "answers from a C loop": ([], {"product_rule": "def product_rule(f, df, g, dg, x):\n"
                                                   "    return sum(range(10 ** 15))"}, "question"),
}


class TestHoldingOn:
    """Submissions that try to keep the grader busy forever, or to exhaust the machine."""

    @pytest.mark.parametrize("attack", list(HOLDERS))
    def test_a_submission_cannot_hold_grading_past_its_limits(self, tmp_path, namespaces, attack):
        """Attack: keep the grader waiting (messages every 0.2 s, or sleep ignoring SIGALRM); it loses
        the cell or the answer under way, keeps the rest, and grading ends well within bounds."""
        cells, answers, part = HOLDERS[attack]
        answers = {**GOOD, **({"product_rule": None} if part == "cell" else {}), **answers}
        path = write_notebook(tmp_path / "holder", [*cells, *(a for a in answers.values() if a is not None)])

        started = time.monotonic()
        result = grade_notebook(path, seed=1, limits=HOLD)
        elapsed = time.monotonic() - started
        assert elapsed < 30
        states = {q.id.split(".")[1]: q.status for q in result.questions}
        assert states["numerical_derivative"] == states["lesson_graph"] == "passed", result.questions
        assert states["product_rule"] != "passed"
        assert result.score == 6
        if part == "cell":
            assert any("cell 1" in e and "skipped" in e for e in result.cell_errors), result.cell_errors
        else:
            assert states["product_rule"] in ("timeout", "crashed")

    @pytest.mark.parametrize("sig", ["SIGKILL", "SIGSTOP"])
    def test_a_signal_to_the_submissions_process_group_does_not_reach_the_worker(self, tmp_path, namespaces, sig):
        """Attack: ``os.kill(0, sig)`` in a top-level cell signals the cell's whole process group.
        The worker is not the submission's to signal (worker.py: the child "cannot see the worker or
        name it in a signal"): the cell is cut off, the same worker grades the next classmate."""
        attacker = write_notebook(tmp_path / "signaller", [f"import os, signal\nos.kill(0, signal.{sig})",
                                                           *GOOD.values()])
        classmate = honest(tmp_path / "alice")
        with Sandbox() as sandbox:
            worker = sandbox.process.pid
            attacked = grade_notebook(attacker, seed=1, limits=HOLD, sandbox=sandbox)
            replaced = sandbox.process.pid != worker
            after = grade_notebook(classmate, seed=1, limits=HOLD, sandbox=sandbox)
        assert attacked.score == 8  # the signal went to its own group only: the answers all count
        assert after.score == 8
        assert not replaced, f"the submission's {sig} reached the worker, which had to be replaced"

    def test_a_fork_bomb_and_a_memory_hog_end_with_the_batch(self, tmp_path, namespaces, record_property):
        """Attack: a top-level cell forks up to 2000 sleeping children, and one answer forks again and
        then grows a list of touched blocks towards 8 GB."""
        room = Classroom(tmp_path)
        bomb = ("import os, time\ncount = 0\nfor _ in range(2000):\n    try:\n        pid = os.fork()\n"
                "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
                "    count += 1\nraise RuntimeError(f'forked {count}')")
        hog = ("import os, time\ndone = []\ndef product_rule(f, df, g, dg, x):\n    if not done:\n"
               "        done.append(1)\n        for _ in range(2000):\n            try:\n"
               "                pid = os.fork()\n"
               "            except OSError:\n                break\n            if pid == 0:\n"
               "                time.sleep(60)\n                os._exit(0)\n        hog = []\n"
               "        while len(hog) < 8 * 4:\n            hog.append(b'x' * (256 * 1024**2))\n"
               "    return df(x) * g(x) + f(x) * dg(x)")
        attacker = room.attacker("bomber", bomb, **{**GOOD, "product_rule": hog})
        run = room.grade(attacker)
        assert run.returncode == 0, run.err
        assert json.loads(run.out) == {"graded": 3, "skipped": 0, "errors": 0}
        room.assert_classmates_full_marks()
        room.assert_untouched(run)
        result = room.result("bomber")
        assert statuses(result)["product_rule"] != "passed"
        assert statuses(result)["numerical_derivative"] == "passed"
        record_property("forked", result["cell_errors"])


# --- 11 to 16: a second pass ------------------------------------------------------------------------------


def _ctypes_prelude() -> str:
    return dedent('''
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
    ''')


def net_probe(tcp: int, tcp6: int | None, udp: int, abstract: str, path: str) -> str:
    """Connect to what the test listens on, on the grader's machine, and resolve public names."""
    return source(r'''
        import socket
        reached = []
        targets = [(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", $tcp)),
                   (socket.AF_UNIX, socket.SOCK_STREAM, $abstract), (socket.AF_UNIX, socket.SOCK_STREAM, $path)]
        if $tcp6:
            targets.append((socket.AF_INET6, socket.SOCK_STREAM, ("::1", $tcp6)))
        for family, kind, address in targets:
            s = socket.socket(family, kind)
            s.settimeout(2)
            try:
                s.connect(address)
                s.sendall(b"hello from the sandbox")
                reached.append(repr(address))
            except OSError:
                pass
            finally:
                s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.sendto(b"hello from the sandbox", ("127.0.0.1", $udp))
        except OSError:
            pass
        for name in ("example.com", "pypi.org"):
            try:
                socket.getaddrinfo(name, 443)
                reached.append(name)
            except OSError:
                pass
        raise RuntimeError(f"reached {reached}")
    ''', tcp=tcp, tcp6=tcp6, udp=udp, abstract=abstract, path=path)


# Every process this cell can see but did not start: trace it, enter its namespaces, signal it
# through a pidfd, read its memory; then the syscalls that need a capability.
TRACER = _ctypes_prelude() + r'''
gained = []
me = int(os.readlink("/proc/self"))

def parent(pid):
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rfind(")") + 2:].split()[1])

others = []
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != me:
        try:
            if parent(int(entry)) != me:
                others.append(int(entry))
        except OSError:
            pass

class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

for pid in others:
    for request, name in ((16, "PTRACE_ATTACH"), (0x4206, "PTRACE_SEIZE")):
        if libc.ptrace(request, pid, 0, 0) == 0:
            gained.append(f"{name} {pid}")
    try:
        spaces = os.listdir(f"/proc/{pid}/ns")
    except OSError:
        spaces = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"]
    for ns in spaces:
        try:
            fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
        except OSError:
            continue
        gained.append(f"opened {pid}/ns/{ns}")
        if libc.setns(fd, 0) == 0:
            gained.append(f"entered {pid}/ns/{ns}")
    try:
        fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
        if libc.syscall(424, fd, 0, None, 0) == 0:  # pidfd_send_signal(fd, 0): could signal it
            gained.append(f"pidfd_send_signal {pid}")
    except OSError:
        pass
    buffer = ctypes.create_string_buffer(16)
    local, remote = IoVec(ctypes.cast(buffer, ctypes.c_void_p), 16), IoVec(0x400000, 16)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) > 0:
        gained.append(f"process_vm_readv {pid}")
for what, call in (("mounted a tmpfs", lambda: libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)),
                   ("remounted / read-write", lambda: libc.mount(None, b"/", None, 32, None)),
                   ("unmounted /tmp", lambda: libc.umount2(b"/tmp", 2)),
                   ("set the hostname", lambda: libc.sethostname(b"pwned", 5)),
                   ("chrooted", lambda: libc.chroot(b"/tmp"))):
    if call() == 0:
        gained.append(what)
raise RuntimeError(f"saw {len(others)} processes, gained {gained}")
'''

# A setting of the whole machine written with the value it has (a write that changes nothing, so that
# the test harms no machine), and the most dangerous one opened for writing but not written: a pipe in
# kernel.core_pattern runs a program as root, outside every namespace, when any process dumps core.
SYSCTL = r'''
import os
wrote, opened = [], []
path = "/proc/sys/fs/lease-break-time"
try:
    value = open(path).read()
    with open(path, "w") as f:
        f.write(value)
    wrote.append(path)
except OSError:
    pass
for path in ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"):
    try:
        os.close(os.open(path, os.O_WRONLY))
        opened.append(path)
    except OSError:
        pass
writable = sum(os.access(os.path.join(folder, name), os.W_OK)
               for folder, _, names in os.walk("/proc/sys") for name in names)
raise RuntimeError(f"wrote {wrote}, could write {opened}, {writable} settings writable")
'''

SCRATCH_FILL = r'''
import os

def fill(folder):
    total, block = 0, b"x" * (1 << 20)
    for i in range(64):  # at most 960 MiB, in files under the 16 MiB file-size limit
        fd = os.open(os.path.join(folder, f"fill{i}"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for _ in range(15):
                total += os.write(fd, block)
        except OSError:
            return total
        finally:
            os.close(fd)
    return total

took = {folder: fill(folder) >> 20 for folder in ("/tmp", "/dev/shm")}
raise RuntimeError(f"scratch MiB {took}")
'''

# A tmpfs of its own, mounted in a nested user and mount namespace, which the scratch cap does not cover.
NESTED_FILL = _ctypes_prelude() + r'''
uid, gid = os.getuid(), os.getgid()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    written = 0
    try:
        if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
            for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
            if libc.mount(b"tmpfs", b"/sandbox", b"tmpfs", 0, b"size=1g") == 0:
                block = b"x" * (1 << 20)
                for i in range(14):  # 210 MiB, more than the scratch space holds
                    with open(f"/sandbox/fill{i}", "wb", buffering=0) as f:
                        for _ in range(15):
                            written += f.write(block)
    except OSError:
        pass
    os.write(w, str(written).encode())
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
written = int(os.read(r, 64) or b"0")
raise RuntimeError(f"wrote {written >> 20} MiB outside the capped scratch space")
'''


def key_writer(marker: str) -> str:
    """A key carrying ``marker`` in every kernel keyring the submission can name, readable by anyone."""
    return _ctypes_prelude() + source(r'''
        MARK = $marker
        rings = [-1, -2, -3, -4, -5]  # its thread, process, session, user and user-session keyrings
        for line in open("/proc/keys"):
            fields = line.split()
            if len(fields) > 8 and fields[7] == "keyring":
                rings.append(int(fields[0], 16))  # and every other keyring it can see
        placed = 0
        for ring in rings:
            name = f"{MARK} in {ring}".encode()
            key = libc.syscall(248, b"user", name, MARK.encode(), len(MARK), ctypes.c_long(ring))  # add_key
            if key > 0:
                libc.syscall(250, 5, ctypes.c_long(key), ctypes.c_uint(0x3F3F3F3F))  # KEYCTL_SETPERM: all for all
                placed += 1
        raise RuntimeError(f"placed {placed} keys")
    ''', marker=marker)


def key_reader(marker: str) -> str:
    return source(r'''
        found = [line.split(None, 8)[-1].strip() for line in open("/proc/keys") if $marker in line]
        raise RuntimeError(f"keys left behind: {found}")
    ''', marker=marker)


def _ipc_names(marker: str) -> dict[str, object]:
    return {"marker": marker, "key": int(marker[-7:], 16), "port": 40000 + int(marker[-4:], 16) % 20000}


def ipc_writer(marker: str) -> str:
    """SysV shared memory, a POSIX shared memory file and message queue, an abstract unix socket and a
    TCP port in the sandbox's network namespace, all named after ``marker``; the sockets are held by
    a daemon."""
    return _ctypes_prelude() + source(r'''
        import socket, time
        MARK = $marker
        libc.shmat.restype = ctypes.c_void_p
        shmid = libc.shmget($key, 4096, 0o1666)  # IPC_CREAT | 0666
        if shmid >= 0:
            address = libc.shmat(shmid, None, 0)
            if address not in (None, ctypes.c_void_p(-1).value):
                ctypes.memmove(address, MARK.encode(), len(MARK))
        with open(f"/dev/shm/{MARK}", "w") as f:
            f.write(MARK)
        try:
            libc.mq_open((f"/{MARK}").encode(), 0o102, 0o666, None)  # O_CREAT | O_RDWR
        except AttributeError:  # a C library without mq_open
            pass
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                held = []
                for family, address in ((socket.AF_UNIX, "\0" + MARK), (socket.AF_INET, ("127.0.0.1", $port))):
                    try:
                        s = socket.socket(family)
                        s.bind(address)
                        s.listen()
                        held.append(s)
                    except OSError:
                        pass
                time.sleep(60)
            os._exit(0)
        time.sleep(0.3)
    ''', **_ipc_names(marker))


def ipc_reader(marker: str) -> str:
    return _ctypes_prelude() + source(r'''
        import socket
        MARK = $marker
        found = []
        if libc.shmget($key, 0, 0) >= 0 or any(line.split()[:1] == [str($key)] for line in open("/proc/sysvipc/shm")):
            found.append("SysV shared memory")
        if MARK in os.listdir("/dev/shm"):
            found.append("/dev/shm")
        try:
            if libc.mq_open((f"/{MARK}").encode(), 0, 0, None) >= 0:
                found.append("a message queue")
        except AttributeError:
            pass
        for family, address in ((socket.AF_UNIX, "\0" + MARK), (socket.AF_INET, ("127.0.0.1", $port))):
            s = socket.socket(family)
            s.settimeout(1)
            try:
                s.connect(address)
                found.append(repr(address))
            except OSError:
                pass
        raise RuntimeError(f"ipc left behind: {found}")
    ''', **_ipc_names(marker))


def _host_keys(marker: str) -> list[str]:
    try:
        return [line.strip() for line in Path("/proc/keys").read_text().splitlines() if marker in line]
    except OSError:
        return []


def _invalidate_keys(marker: str) -> None:
    """Remove from the kernel the keys an attack left in this user's keyrings (KEYCTL_INVALIDATE)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    for line in _host_keys(marker):
        libc.syscall(250, 21, ctypes.c_long(int(line.split()[0], 16)))


class _Listeners:
    """Sockets on the grader's own machine that a submission must not reach: TCP on 127.0.0.1 (and ::1
    where there is one), UDP on 127.0.0.1, an abstract unix socket and a unix socket file in /tmp.
    A thread records every connection or datagram."""

    def __init__(self) -> None:
        import socket
        import threading

        token = uuid.uuid4().hex[:12]
        self.abstract = f"\0backprop-host-{token}"
        self.path = f"/tmp/backprop-host-{token}.sock"
        self.sockets = []
        for family, kind, address in ((socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)),
                                      (socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0)),
                                      (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)),
                                      (socket.AF_UNIX, socket.SOCK_STREAM, self.abstract),
                                      (socket.AF_UNIX, socket.SOCK_STREAM, self.path)):
            try:
                s = socket.socket(family, kind)
                s.bind(address)
                if kind == socket.SOCK_STREAM:
                    s.listen()
            except OSError:
                continue
            self.sockets.append(s)
        names = {(s.family, s.type): s.getsockname() for s in self.sockets}
        self.tcp = names[(socket.AF_INET, socket.SOCK_STREAM)][1]
        self.tcp6 = names.get((socket.AF_INET6, socket.SOCK_STREAM), (None, None))[1]
        self.udp = names[(socket.AF_INET, socket.SOCK_DGRAM)][1]
        self.heard: list[str] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        import select
        import socket

        while not self.stopped.is_set():
            ready, _, _ = select.select(self.sockets, [], [], 0.1)
            for s in ready:
                try:
                    if s.type == socket.SOCK_DGRAM:
                        self.heard.append(f"datagram {s.recv(100)!r}")
                    else:
                        conn, _ = s.accept()
                        self.heard.append(f"connection to {s.getsockname()!r}")
                        conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for s in self.sockets:
            s.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class TestNeighbours:
    """Submissions that reach for the network, the processes around them, the kernel's shared objects,
    and the submission graded after them (--jobs 1: one worker, in a known order)."""

    @pytest.fixture(scope="class")
    def batch(self, classroom_factory, namespaces):
        room = classroom_factory("neighbours")
        listeners = _Listeners()
        try:
            attackers = [
                room.attacker("netprobe", net_probe(listeners.tcp, listeners.tcp6, listeners.udp, listeners.abstract,
                                                    listeners.path), **GOOD),
                room.attacker("tracer", TRACER, **GOOD),
                room.attacker("sysctl", SYSCTL, **GOOD),
                room.attacker("filler", SCRATCH_FILL, NESTED_FILL, **GOOD),
                room.attacker("leaver", key_writer(room.marker), ipc_writer(room.marker), **GOOD),
                room.attacker("finder", key_reader(room.marker), ipc_reader(room.marker), **GOOD),
            ]
            run = room.grade(*attackers, jobs=1)
        finally:
            listeners.close()
        deadline = time.monotonic() + 5  # keys of ended namespaces take a moment to be collected
        while _host_keys(room.marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _host_keys(room.marker)
        _invalidate_keys(room.marker)
        return room, run, listeners, left

    def test_the_batch_finishes_and_every_classmate_keeps_full_marks(self, batch):
        room, run, _, _ = batch
        assert run.returncode == 0 and "Traceback" not in run.err, run.err
        assert json.loads(run.out) == {"graded": 8, "skipped": 0, "errors": 0}
        room.assert_classmates_full_marks()
        room.assert_untouched(run)

    def test_no_socket_or_name_on_the_graders_machine_can_be_reached(self, batch):
        """Attack: connect to TCP listeners on the host's 127.0.0.1 and ::1, send a UDP datagram to
        127.0.0.1, connect to an abstract unix socket and a unix socket file in the host's /tmp, and
        resolve public names. The sandbox has its own network namespace and /tmp."""
        room, _, listeners, _ = batch
        result = room.result("netprobe")
        assert result["cell_errors"] == ["cell 1: RuntimeError: reached []"], result["cell_errors"]
        assert listeners.heard == []
        assert result["score"] == 8

    def test_the_worker_and_the_processes_around_the_job_cannot_be_traced_entered_or_signalled(self, batch):
        """Attack: ptrace (attach, seize) every process in /proc it did not start, open and setns into
        their namespaces, signal them through a pidfd, read their memory with process_vm_readv; then
        mount, remount / read-write, unmount /tmp, set the hostname and chroot."""
        room, _, _, _ = batch
        result = room.result("tracer")
        assert len(result["cell_errors"]) == 1 and result["cell_errors"][0].endswith("gained []"), result["cell_errors"]
        assert result["score"] == 8

    def test_the_machines_kernel_settings_cannot_be_changed(self, batch):
        """Attack: write /proc/sys. The sandbox has no capability, but its uid is the grader's own uid
        outside; for a grader run as root (a container, CI: where control groups cap the sandbox)
        that is uid 0, which is all the kernel asks of a writer of /proc/sys (bubblewrap covers
        /proc/sys read-only only where it is writable as bubblewrap starts). The attack writes
        fs.lease-break-time of the whole machine (with the value it has) and opens
        kernel.core_pattern for writing: a pipe there runs any program as root, outside every
        namespace, at the next core dump."""
        room, _, _, _ = batch
        errors = room.result("sysctl")["cell_errors"]
        assert len(errors) == 1 and errors[0].startswith("cell 1: RuntimeError: wrote [], could write []"), errors

    def test_the_scratch_space_is_capped(self, batch):
        """Attack: fill /tmp and /dev/shm with files until the writes fail (at most 960 MiB each)."""
        room, _, _, _ = batch
        errors = room.result("filler")["cell_errors"]
        took = json.loads(re.search(r"scratch MiB (\{.*\})", errors[0]).group(1).replace("'", '"'))
        assert 0 < took["/tmp"] <= 128 and took["/dev/shm"] <= 128, took

    def test_no_tmpfs_beyond_the_scratch_cap_can_be_mounted(self, batch):
        """Attack: unshare a nested user and mount namespace, mount a tmpfs of 1 GiB over /sandbox and
        write 210 MiB into it. The README: "a private tmpfs as the only writable place"; memory in a
        tmpfs counts against no per-process limit, so where no control group caps the sandbox this
        is memory the grader cannot bound (and where one does, see TestWorkerDeath)."""
        room, _, _, _ = batch
        errors = room.result("filler")["cell_errors"]
        assert errors[1] == "cell 2: RuntimeError: wrote 0 MiB outside the capped scratch space", errors

    def test_shared_memory_queues_and_sockets_reach_no_later_submission(self, batch):
        """Attack: leave SysV shared memory, a file in /dev/shm, a POSIX message queue, and a daemon
        holding an abstract unix socket and a TCP port in the sandbox's network namespace; the next
        submission graded by the same worker looks for each of them."""
        room, _, _, _ = batch
        errors = room.result("finder")["cell_errors"]
        assert "cell 2: RuntimeError: ipc left behind: []" in errors, errors

    def test_kernel_keyrings_carry_nothing_to_a_later_submission_or_the_machine(self, batch):
        """Attack: add a key named after the marker, readable by anyone, to every kernel keyring the
        submission can name (its own, and every keyring listed in /proc/keys: the sandbox's uid is
        the grader's own uid outside, so these include the grader user's keyrings). The next
        submission must find none, and none may outlive the batch."""
        room, _, _, left = batch
        errors = room.result("finder")["cell_errors"]
        assert "cell 1: RuntimeError: keys left behind: []" in errors, errors
        assert left == [], f"keys the submission left in this machine's keyrings: {left}"


# Frames written straight down the pipe, as bytes.
RAW = CHANNEL + '''
def frame(payload):
    os.write(OUT, struct.pack(">I", len(payload)) + payload)
'''

# Each breaks the relay or the framing in its own way and is followed by the good answers.
FRAMES = {
    # a header announcing 1000 bytes, a few of them, and the end of the process
    "partial": RAW + 'os.write(OUT, struct.pack(">I", 1000) + b\'{"cell_error"\')\nos._exit(0)',
    # a header announcing 4 GB
    "fourgig": RAW + 'os.write(OUT, struct.pack(">I", 0xFFFFFFFF) + b"x" * 100)\nimport time\ntime.sleep(30)',
    # 50 000 tiny well-formed frames, 5 000 to a write
    "tiny": RAW + 'one = struct.pack(">I", 32) + b\'{"cell_error": 0, "error": "xx"}\'\nfor _ in range(10):\n'
                  '    os.write(OUT, one * 5000)',
    # well-formed frames just under the 16 MiB cap, eight of them (the byte budget is 64 MiB)
    "nearcap": RAW + 'big = b\'{"cell_error": 0, "error": "\' + b"x" * (16 * 1024**2 - 64) + b\'"}\'\n'
                     'for _ in range(8):\n    frame(big)',
    # garbage between two well-formed frames
    "garbage": RAW + 'say({"cell_error": 0, "error": "one"})\nos.write(OUT, b"garbage between frames")\n'
                     'say({"cell_error": 0, "error": "two"})\nimport time\ntime.sleep(30)',
    # after the child says it has finished, more frames (half of them cut short) through a hooked os.write
    "after": RAW + dedent('''
        real_write = os.write
        def write(fd, data):
            n = real_write(fd, data)
            if fd == OUT and b'"finished"' in bytes(data):
                for i in range(100):
                    real_write(fd, struct.pack(">I", 16) + b'{"finished": tru')
                    real_write(fd, struct.pack(">I", 12) + b'{"cell": 0}\\n')
            return n
        os.write = write
    '''),
}

# Noise that is no frame at all, or frames from a thread that outlives its cell; each is followed by the
# good answers.
NOISE = {
    # 64 MB printed on stdout and written to descriptors 1 and 2
    "printer": ('import os, sys\nprint("x" * 32 * 1024**2)\nsys.stderr.write("\\x1b[2J" * 1024**2)\n'
                'os.write(1, b"\\r" * 16 * 1024**2)\nos.write(2, b"\\x07" * 16 * 1024**2)'),
    # a thread that, every 2 ms for as long as the child lives, sends a cell error for the first cell
    "chatter": RAW + dedent('''
        import threading, time
        def chatter():
            while True:
                say({"cell_error": 0, "error": "still here"})
                time.sleep(0.002)
        threading.Thread(target=chatter, daemon=True).start()
    ''') + "\nimport time\ntime.sleep(0.01)\n",  # the next cell is said to start while the thread talks
}

# Forged values that are costly or awkward for the judge; each is reported for every case.
COSTLY = {
    # NaN, infinities and -0.0
    "nonfinite": ('def value_of(qid, inputs):\n    if qid.endswith("lesson_graph"):\n'
                  '        return {"values": {k: -0.0 for k in "abcde"},\n'
                  '                "edges": {e: float("nan") for e in ("a->c", "b->c", "b->d", "c->e", "d->e")}}\n'
                  '    return float("nan") if qid.endswith("derivative") else float("-inf")'),
    # integers of 4300 digits, the most Python parses
    "bigint": 'def value_of(qid, inputs):\n    return -int("9" * 4300)',
    # lists nested 20 deep (the limit), 180 000 numbers in each value
    "deep": 'def value_of(qid, inputs):\n    v = 1.0\n    for _ in range(20):\n        v = [v] + [0.5] * 9000\n'
            '    return v',
    # 199 990 empty dicts in each value
    "dicts": 'def value_of(qid, inputs):\n    return [{} for _ in range(199_990)]',
    # arrays as large as one frame holds (five per report)
    "arrays": ('import base64\nBLOB = base64.b64encode(bytes(2_400_000)).decode()\n'
               'def value_of(qid, inputs):\n    return {"__ndarray__": BLOB, "dtype": "|u1", "shape": [2_400_000]}'),
}


class TestRelay:
    """Submissions that attack the relay of frames from the child to the judge, and the judge's cost
    of reading what they send. Graded in one batch with the classmates (--jobs 2)."""

    @pytest.fixture(scope="class")
    def batch(self, classroom_factory, namespaces):
        room = classroom_factory("relay")
        paths = [room.attacker(name, cell, **GOOD) for name, cell in FRAMES.items()]
        paths += [room.attacker(name, cell, "import time\ntime.sleep(0.3)", **GOOD) for name, cell in NOISE.items()]
        paths += [room.attacker(name, forged_reports(value_of)) for name, value_of in COSTLY.items()]
        run = room.grade(*paths)
        return room, run

    def test_the_batch_finishes_in_bounded_time_and_memory_and_classmates_keep_full_marks(self, batch,
                                                                                         record_property):
        room, run = batch
        assert run.returncode == 0 and "Traceback" not in run.err, run.err
        assert json.loads(run.out) == {"graded": len(FRAMES) + len(NOISE) + len(COSTLY) + 2, "skipped": 0,
                                       "errors": 0}
        record_property("seconds", round(run.seconds, 1))
        record_property("grader_peak_mib", run.peak_bytes >> 20)
        assert run.seconds < 60
        assert run.peak_bytes < 1024**3, f"the grader peaked at {run.peak_bytes >> 20} MiB"
        room.assert_classmates_full_marks()
        room.assert_untouched(run)

    def test_a_broken_frame_costs_the_cell_that_sent_it_and_nothing_else(self, batch):
        """Attack: a partial frame and the end of the process; a header announcing 4 GB; garbage
        between frames. The cell is cut off and skipped; the answers after it still count."""
        room, _ = batch
        for name in ("partial", "fourgig", "garbage"):
            result = room.result(name)
            assert result["score"] == 8, (name, result["questions"])
            assert any(e.startswith("cell 1 ") and e.endswith("and was skipped") for e in result["cell_errors"]), \
                (name, result["cell_errors"])

    def test_a_flood_of_frames_ends_the_submission_and_is_charged_to_it(self, batch):
        """Attack: 50 000 tiny well-formed frames; eight well-formed frames just under the 16 MiB cap.
        Either exceeds a budget (10 000 messages, 64 MiB): the submission is stopped and said to be."""
        room, _ = batch
        for name in ("tiny", "nearcap"):
            result = room.result(name)
            assert result["score"] == 0
            assert all("more than" in q["feedback"] and "messages" in q["feedback"] for q in result["questions"]), \
                (name, result["questions"])
            assert all(len(e) <= 400 for e in result["cell_errors"]), name

    def test_frames_after_the_end_are_noted_and_change_no_score(self, batch):
        """Attack: hook os.write in the child so that right after "finished" it sends a hundred more
        frames, half of them cut short."""
        room, _ = batch
        result = room.result("after")
        assert result["score"] == 8
        assert flagged(result, "malformed message")

    def test_output_that_is_no_frame_is_lost_and_costs_nothing(self, batch):
        """Attack: 64 MB on stdout and stderr, through print and straight to descriptors 1 and 2, full
        of escape sequences, carriage returns and bells. It goes nowhere: the answers count."""
        room, run = batch
        assert room.result("printer")["score"] == 8
        assert len(run.stdout) + len(run.stderr) < 100_000

    def test_a_thread_that_outlives_its_cell_is_charged_to_the_submission_alone(self, batch, record_property):
        """Attack: a thread started by the first cell keeps sending cell errors for that cell while
        the later cells and the probes run. Each message out of place costs the submission the step
        under way; the batch is not held up and no grader error is recorded."""
        room, run = batch
        assert not any("chatter" in e for e in run.errors()), run.errors()
        result = room.result("chatter")
        record_property("chatter", json.dumps({"score": result["score"], "statuses": statuses(result)}))
        assert flagged(result, "malformed message")

    def test_forged_values_that_are_costly_to_read_earn_nothing(self, batch):
        """Attack: forged reports of NaN, infinities and -0.0; 4300-digit integers; lists nested to the
        depth limit with 180 000 numbers; 199 990 empty dicts; arrays as large as a frame holds."""
        room, run = batch
        assert not any("grader error" in e for e in run.errors()), run.errors()
        for name in COSTLY:
            result = room.result(name)
            assert result["score"] == 0, (name, result["questions"])
            assert "passed" not in statuses(result).values(), name
            assert all(len(q["feedback"]) < 2000 for q in result["questions"]), name


def _raw_notebook(folder: Path, cells: list[str], metadata: object = None, name: str = NOTEBOOK) -> Path:
    """A notebook written as JSON text (nbformat is too slow for 100 000 cells and refuses odd metadata)."""
    nb = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None}
                    for c in cells],
          "metadata": {"backprop_course": {"exercise": "01"} if metadata is None else metadata},
          "nbformat": 4, "nbformat_minor": 5}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(nb))
    return path


class TestOddNotebooks:
    """Notebooks that are valid JSON but odd: huge or countless cells, NUL bytes and lone surrogates,
    metadata that lies about the exercise. Graded in one batch with the classmates."""

    @pytest.fixture(scope="class")
    def batch(self, classroom_factory, namespaces):
        room = classroom_factory("odd")
        answers = list(GOOD.values())
        root = room.root
        notebooks = {
            "bigcell": _raw_notebook(root / "bigcell", ["x = '" + "a" * 15_000_000 + "'", *answers]),
            "countless": _raw_notebook(root / "countless", [""] * 100_000 + answers),
            "nul": _raw_notebook(root / "nul", ["x = 1\x00", "y = '\ud800'", "# \x00 \ud800 \udfff", *answers]),
            "other": _raw_notebook(root / "other", answers, {"exercise": "02"}),
        }
        refused = {
            "dotdot": _raw_notebook(root / "dotdot", answers, {"exercise": "../../etc"}),
            "hugemeta": _raw_notebook(root / "hugemeta", answers, {"exercise": "01" + "\x1b[2J" * 250_000}),
            "listmeta": _raw_notebook(root / "listmeta", answers, {"exercise": ["01"]}),
        }
        # Under 16 MB on disk, but each invalid byte is read as U+FFFD (three bytes): the code cells
        # the sandbox is sent are three times the notebook.
        (root / "swollen").mkdir()
        text = json.dumps({"cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                                      "execution_count": None} for s in ["x = '@@'", *answers]],
                           "metadata": {"backprop_course": {"exercise": "01"}}, "nbformat": 4}).encode()
        swollen = root / "swollen" / NOTEBOOK
        swollen.write_bytes(text.replace(b"@@", b"\xff" * (16 * 1024**2 - len(text) - 16)))
        notebooks["swollen"] = swollen
        run = room.grade(*notebooks.values(), *refused.values())
        return room, run, refused

    def test_the_batch_finishes_and_every_classmate_keeps_full_marks(self, batch, record_property):
        room, run, refused = batch
        assert run.returncode == 0 and "Traceback" not in run.err, run.err
        summary = json.loads(run.out)  # the swollen notebook may be refused (see the last test of this class)
        assert summary["skipped"] == 0 and summary["graded"] + summary["errors"] == 7 + len(refused), summary
        assert summary["graded"] >= 6, summary
        record_property("seconds", round(run.seconds, 1))
        assert run.seconds < 90
        room.assert_classmates_full_marks()
        room.assert_untouched(run)

    def test_a_15_mb_cell_and_100_000_empty_cells_are_graded_in_bounded_time(self, batch, record_property):
        """Inputs: one code cell that is a 15 MB string literal; 100 000 empty code cells before the
        answers. Both are graded (never a grader error); the big cell costs nothing."""
        room, _, _ = batch
        assert room.result("bigcell")["score"] == 8
        countless = room.result("countless")
        record_property("countless", json.dumps({"score": countless["score"],
                                                 "feedback": countless["questions"][0]["feedback"]}))

    def test_nul_bytes_and_lone_surrogates_in_cells_cost_those_cells_and_reach_no_record(self, batch):
        """Inputs: code cells with NUL bytes and lone surrogates (valid JSON escapes). They fail to
        compile and are noted; the answers count; nothing stored or printed carries a surrogate."""
        room, run, _ = batch
        result = room.result("nul")
        assert result["score"] == 8
        assert len(result["cell_errors"]) == 3, result["cell_errors"]
        assert not UNSAFE.search(json.dumps(result, ensure_ascii=False))
        assert _terminal_safe("stderr", run.stderr) == []

    def test_metadata_that_names_no_exercise_is_refused_in_one_short_line(self, batch):
        """Inputs: metadata naming exercise "../../etc", a 1 MB string of escape sequences, a list;
        each is refused in one line that names the file and echoes none of it."""
        room, run, refused = batch
        lines = run.errors()
        for name, path in refused.items():
            mine = [line for line in lines if line.startswith(f"error: {path}")]
            assert len(mine) == 1 and len(mine[0]) < 1000 and "../" not in mine[0], (name, mine)
        assert _terminal_safe("stderr", run.stderr) == []

    def test_metadata_naming_another_exercise_is_graded_as_that_exercise(self, batch):
        """Inputs: an exercise-01 notebook (file name and answers) whose metadata says exercise 02. The
        metadata decides (README); the answers of 01 earn nothing there."""
        room, _, _ = batch
        with sqlite3.connect(room.db) as con:
            rows = con.execute("SELECT exercise, score FROM grades WHERE student = 'other'").fetchall()
        assert rows == [("02", 0.0)]

    def test_a_notebook_whose_code_outgrows_the_channel_is_refused_or_graded_never_called_a_crash(self, batch):
        """Input: a notebook just under 16 MB whose invalid UTF-8 bytes become U+FFFD when read, so
        that its code cells, sent to the sandbox, are about 48 MB: more than the worker accepts in one
        frame (16 MiB). The grader must refuse it in one line, as it does a 20 MB file, or grade it;
        it must not tell the student that their correct answers ended the grading process."""
        room, run, _ = batch
        errors = [line for line in run.errors() if "swollen" in line]
        if errors:
            assert len(errors) == 1 and "grader error" not in errors[0], errors
            return
        result = room.result("swollen")
        crashes = [q["id"] for q in result["questions"] if "ended the grading process" in q["feedback"]]
        assert crashes == [], f"correct answers said to have crashed: {crashes}"


class TestClock:
    """Submissions that spend their time in many small pieces."""

    def test_many_cells_each_under_the_cell_limit_are_ended_by_the_submission_budget(self, tmp_path, namespaces):
        """Attack: 40 cells that each sleep 0.4 s, under the 0.5 s cell limit, then the answers. The
        submission's budget (5 s here) ends it; the next classmate in the same worker is graded."""
        attacker = write_notebook(tmp_path / "slow", [*["import time\ntime.sleep(0.4)"] * 40, *GOOD.values()])
        classmate = honest(tmp_path / "alice")
        with Sandbox() as sandbox:
            started = time.monotonic()
            result = grade_notebook(attacker, seed=1, limits=HOLD, sandbox=sandbox)
            elapsed = time.monotonic() - started
            after = grade_notebook(classmate, seed=1, limits=HOLD, sandbox=sandbox)
        assert elapsed < HOLD.submission_seconds + 4 * HOLD.grace_seconds + 2, elapsed
        assert result.score == 0
        assert all(q.status == "timeout" and "budget" in q.feedback for q in result.questions), result.questions
        assert after.score == 8


def _worker_pid(sandbox: Sandbox) -> int | None:
    """The worker: the python process that bubblewrap (or the sandbox itself) started."""
    from backprop_lib.grading.cgroups import descendants

    def name(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    assert sandbox.process is not None
    for pid in descendants(sandbox.process.pid):
        info = _stat(pid)
        if name(pid).startswith("python") and info is not None and not name(info[1]).startswith("python"):
            return pid
    return None


# Fills a tmpfs of its own (a nested user and mount namespace) from a process of a few hundred KB,
# so that the biggest process in the sandbox's control group, the one its OOM killer takes, is not
# one of the submission's. Where no tmpfs can be mounted, /tmp and /dev/shm are filled instead.
OOM_BAIT = _ctypes_prelude() + r'''
uid, gid = os.getuid(), os.getgid()
pid = os.fork()
if pid == 0:
    target = "/tmp"
    if libc.unshare(0x10000000 | 0x00020000) == 0:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        if libc.mount(b"tmpfs", b"/sandbox", b"tmpfs", 0, b"size=64g") == 0:
            target = "/sandbox"
    os.execv("/bin/sh", ["sh", "-c", f"i=0; while [ $i -lt 400 ]; do head -c 15000000 /dev/zero > {target}/f$i; "
                                     f"head -c 15000000 /dev/zero > /dev/shm/f$i; i=$((i+1)); done"])
os.waitpid(pid, 0)
'''


class TestWorkerDeath:
    """The warm worker's death, which a submission may bring about, and what the grader does after it."""

    def test_the_oom_killer_takes_the_submissions_processes_never_the_worker(self, tmp_path, namespaces):
        """Attack: fill memory that belongs to no big process of the submission (a tmpfs mounted in a
        nested namespace, written by ``sh`` and ``head``) until the sandbox's control group is out of
        memory. The kernel then kills the biggest process in the group: the worker (numpy and
        matplotlib loaded), unless the job's processes are marked as the ones to kill first
        (oom_score_adj). The worker must survive, as it does a signal to the submission's group."""
        attacker = write_notebook(tmp_path / "bait", [OOM_BAIT, *GOOD.values()])
        classmate = honest(tmp_path / "alice")
        limits = Limits(cell_seconds=20, question_seconds=10, grace_seconds=2)
        with Sandbox(memory_bytes=1024**3) as sandbox:
            if not sandbox.capped:
                pytest.skip("no control group can be made here: no OOM killer acts on the sandbox alone")
            worker = _worker_pid(sandbox)
            attacked = grade_notebook(attacker, seed=1, limits=limits, sandbox=sandbox)
            survived = _worker_pid(sandbox) == worker
            after = grade_notebook(classmate, seed=1, limits=limits, sandbox=sandbox)
        assert after.score == 8
        assert attacked.score == 8, [q.feedback for q in attacked.questions]
        assert survived, f"the OOM killer took the worker; the submission's cells: {attacked.cell_errors}"

    def test_a_worker_that_dies_mid_frame_leaves_nothing_to_poison_the_next_grade(self, tmp_path, namespaces,
                                                                                 monkeypatch):
        """A worker killed while it relays a 4 MiB frame (the OOM killer can take it, see above)
        leaves the first part of that frame in the grader's buffer. The restarted worker's frames
        must not be read as the rest of it: the submission is graded (its streaming cell skipped),
        and the next classmate graded by the same Sandbox gets full marks. (Here the test kills the
        worker, at a moment when part of a frame has arrived; a shorter start limit keeps a failure
        short.)"""
        import threading

        from backprop_lib.grading import sandbox as sandbox_module

        stream = RAW + ('big = b\'{"cell_error": 0, "error": "\' + b"x" * (4 * 1024**2) + b\'"}\'\n'
                        'while True:\n    frame(big)')
        attacker = write_notebook(tmp_path / "stream", [stream, *GOOD.values()])
        classmate = honest(tmp_path / "alice")
        limits = {"attacker": Limits(cell_seconds=5, question_seconds=1, grace_seconds=0.5, submission_seconds=20,
                                     output_bytes=1 << 40, messages=10**6),
                  "classmate": Limits(cell_seconds=1, question_seconds=1, grace_seconds=0.5)}
        outcome: dict[str, object] = {}
        with Sandbox() as sandbox:
            worker = _worker_pid(sandbox)
            monkeypatch.setattr(sandbox_module, "START_SECONDS", 5.0)  # for the restarts: a warm start takes ~1 s

            def kill_mid_frame() -> None:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if 4 < len(sandbox.buffer) < 4 * 1024**2:  # a header and part of its frame
                        os.kill(worker, signal.SIGKILL)
                        outcome["killed"] = len(sandbox.buffer)
                        return
                    time.sleep(0.0005)

            killer = threading.Thread(target=kill_mid_frame, daemon=True)
            killer.start()
            started = time.monotonic()
            for who, path in (("attacker", attacker), ("classmate", classmate)):
                try:
                    outcome[who] = grade_notebook(path, seed=1, limits=limits[who], sandbox=sandbox)
                except Exception as exc:  # noqa: BLE001 - what the batch would record as a grader error
                    outcome[who] = f"{type(exc).__name__}: {exc}"
                killer.join()
            elapsed = time.monotonic() - started
        assert "killed" in outcome, "the worker was never caught mid-frame: the test did not happen"
        attacked, after = outcome["attacker"], outcome["classmate"]
        assert not isinstance(after, str), f"the next classmate was not graded: {after}"
        assert after.score == 8, [q.feedback for q in after.questions]
        assert not isinstance(attacked, str), f"the submission was not graded: {attacked}"
        assert attacked.score == 8 and any("cell 1" in e for e in attacked.cell_errors), attacked.cell_errors
        assert elapsed < 30

