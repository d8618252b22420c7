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
PROGRESS = re.compile(r"\r\[[# ]*\] \d+/\d+")  # the grader's own progress bar redraws its line


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
        while proc.poll() is None:
            marked = marked or bool(marker and _carrying(marker))
            if time.monotonic() - started > timeout:
                proc.kill()
                proc.wait()
                pytest.fail(f"the grader ran longer than {timeout} s")
            seen |= _below(proc.pid)
            time.sleep(0.05)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read(), err.read(), seconds, seen, marked)


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


# --- 7 and 9: what the grader prints and reads ---------------------------------------------------------------


def _terminal_safe(name: str, data: bytes) -> list[str]:
    """What in ``data`` could redraw a terminal, retitle it, overwrite a line or break UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{name}: not UTF-8 ({exc})"]
    text = PROGRESS.sub("", text)
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
