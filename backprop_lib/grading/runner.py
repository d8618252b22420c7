"""Grade a submitted notebook: the student's code runs in child processes, the judging here.

The grader forks a child, which limits itself (memory, CPU, file size), moves to a scratch folder
with a scrubbed environment, silences its output, runs the notebook's code cells top to bottom and
then probes each question. It reports over a pipe as JSON lines: which cell or question it is
starting, and each question's plain outcomes. If the child dies or hangs (``os._exit``, a
segfault, an endless loop that ignores signals), the grader kills it, charges the cell or question
it was in, and forks a fresh child that skips what is already settled. So one question's crash
costs that question only. A child dies with the grader (on Linux): killing a grader, even with
SIGKILL, leaves no student code running.
"""
from __future__ import annotations

import ctypes
import faulthandler
import gc
import json
import os
import resource
import secrets
import select
import signal
import sys
import tempfile
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..course.notebooks import COURSE_KEY, NotebookError, load_notebook_json
from . import EXERCISES, Exercise, find_exercise
from .judge import CRASHED, TIMEOUT, QuestionResult, failure, judge
from .plain import from_plain
from .probe import run_cases

MAX_LINE = 64 * 1024**2


@dataclass(frozen=True)
class Limits:
    """What one child may use. ``question_seconds`` overrides every question's own time limit."""

    cell_seconds: float = 10.0
    question_seconds: float | None = None
    grace_seconds: float = 5.0  # beyond a phase's own limit, before the child is killed from outside
    memory_bytes: int = 2 * 1024**3
    file_bytes: int = 16 * 1024**2

    def for_question(self, question: Any) -> float:
        return self.question_seconds if self.question_seconds is not None else question.time_limit


class GradingError(Exception):
    """The submission cannot be graded (not a notebook, not an exercise): one line for the user."""


@dataclass
class SubmissionResult:
    exercise: str
    student: str
    seed: int
    questions: list[QuestionResult] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> int:
        return sum(q.max_score for q in self.questions)

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "student": self.student, "score": self.score,
                "max_score": self.max_score, "seed": self.seed,
                "questions": [q.as_dict() for q in self.questions], "cell_errors": self.cell_errors}


def exercise_of(nb: Mapping[str, Any], path: Path) -> Exercise:
    """The exercise a notebook answers: from its metadata, else from its file name.

    A course notebook that is not an exercise (a lesson has course metadata but no exercise
    number) is refused even when its file name is an exercise's.
    """
    course = nb["metadata"].get(COURSE_KEY)
    number = course.get("exercise") if isinstance(course, dict) else None
    keys = [number] if number or isinstance(course, dict) else [path.stem]
    for key in keys:
        if key:
            try:
                return find_exercise(str(key))
            except KeyError:
                continue
    known = ", ".join(e.notebook for e in EXERCISES.values())
    raise GradingError(f"{path}: not one of the course's exercises ({known})")


def code_cells(nb: Mapping[str, Any]) -> list[str]:
    """The sources of the code cells, with IPython-only lines (``%magic``, ``!shell``) dropped."""
    sources = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            lines = [line for line in cell["source"].splitlines() if not line.lstrip().startswith(("%", "!"))]
            sources.append("\n".join(lines))
    return sources


# --- the child ----------------------------------------------------------------------------------------


class _CellTimeout(BaseException):
    """Raised by the alarm; a BaseException so that a student's ``except Exception`` cannot swallow it."""


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent: int) -> None:
    """Have this (forked) process killed when ``parent`` dies, and exit now if it already has.

    On Linux the kernel sends SIGKILL when the parent exits (prctl PR_SET_PDEATHSIG), so a grader
    killed by its user leaves neither pool workers nor student code behind. Elsewhere only the
    immediate check applies.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _on_alarm(signum: int, frame: Any) -> None:
    raise _CellTimeout()


def _confine(scratch: str, limits: Limits, cpu_seconds: int) -> None:
    faulthandler.disable()  # a crash of student code is reported by the grader, not dumped on its stderr
    gc.freeze()  # the collector leaves the inherited heap alone: no passes over it, no copied pages
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with an error instead of killing
    os.chdir(scratch)
    for name in list(os.environ):
        if name not in ("PATH", "LANG", "LC_ALL"):
            del os.environ[name]
    os.environ["HOME"] = scratch
    os.environ["MPLBACKEND"] = "Agg"
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stdin = open(os.devnull)
    signal.signal(signal.SIGALRM, _on_alarm)


def _child(channel: int, cells: list[str], skip_cells: set[int], exercise: Exercise,
           cases: Mapping[str, list], done: set[str], scratch: str, limits: Limits, cpu_seconds: int) -> None:
    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(channel, view):]

    try:
        _confine(scratch, limits, cpu_seconds)
        sys.modules["backprop_lib.grading.check"].SKIP_WHILE_GRADING = True  # the module, not check()
        main = types.ModuleType("__main__")  # the notebook's globals, where check() looks too
        sys.modules["__main__"] = main
        namespace = main.__dict__
        for index, source in enumerate(cells):
            if index in skip_cells:
                continue
            send({"cell": index})
            signal.setitimer(signal.ITIMER_REAL, limits.cell_seconds)
            try:
                exec(compile(source, f"<cell {index + 1}>", "exec"), namespace)
            except _CellTimeout:
                send({"cell_error": index, "error": f"cell {index + 1} ran longer than {limits.cell_seconds:g} s"})
            except BaseException as exc:  # any failure of a top-level cell is recorded; the rest still run
                send({"cell_error": index, "error": f"cell {index + 1}: {type(exc).__name__}: {str(exc)[:200]}"})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        for question in exercise.questions:
            if question.id in done:
                continue
            send({"question": question.id})
            signal.setitimer(signal.ITIMER_REAL, limits.for_question(question))
            try:
                report = run_cases(question, namespace, cases[question.id])
            except _CellTimeout:
                report = {"timeout": True}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            send({"report": question.id, "data": report})
        send({"finished": True})
    finally:
        os._exit(0)


# --- the grader ---------------------------------------------------------------------------------------


def _run_child(cells: list[str], skip: set[int], exercise: Exercise, cases: Mapping[str, list],
               done: set[str], limits: Limits) -> tuple[list[dict], str | None]:
    """Run one child; returns its messages and, if it had to be stopped or died, why."""
    read_end, write_end = os.pipe()
    question_seconds = [limits.for_question(q) for q in exercise.questions]
    cpu_seconds = int(len(cells) * limits.cell_seconds + sum(question_seconds) + limits.grace_seconds) + 1
    deadline_per_phase = max([limits.cell_seconds, *question_seconds]) + limits.grace_seconds
    with tempfile.TemporaryDirectory(prefix="backprop-grade-") as scratch:
        grader = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            die_with_parent(grader)
            os.setsid()
            _child(write_end, cells, skip, exercise, cases, done, scratch, limits, cpu_seconds)
        os.close(write_end)
        messages: list[dict] = []
        buffer = b""
        problem = None
        last_progress = time.monotonic()
        with os.fdopen(read_end, "rb", buffering=0) as stream:
            while True:
                remaining = deadline_per_phase - (time.monotonic() - last_progress)
                if remaining <= 0:
                    problem = "timeout"
                    break
                ready, _, _ = select.select([stream], [], [], remaining)
                if not ready:
                    continue
                chunk = stream.read(65536)
                if not chunk:
                    break
                buffer += chunk
                if len(buffer) > MAX_LINE:
                    problem = "crashed"
                    break
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        message = json.loads(line)
                    except json.JSONDecodeError:
                        problem = "crashed"
                        break
                    if isinstance(message, dict):
                        messages.append(message)
                        last_progress = time.monotonic()
                if problem:
                    break
        if problem:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
        if not problem and not any(m.get("finished") for m in messages):
            problem = "crashed"
        return messages, problem


_WARM = False


def _warm_up() -> None:
    """Import, once, what exercise notebooks import, so that every forked child starts with it."""
    global _WARM
    if not _WARM:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

        _WARM = True


def grade_notebook(path: str | os.PathLike, seed: int | None = None, student: str | None = None,
                   limits: Limits = Limits()) -> SubmissionResult:
    """Grade the notebook at ``path``; raises ``GradingError`` if it cannot be graded at all."""
    p = Path(path)
    try:
        nb = load_notebook_json(p)
    except NotebookError as exc:
        raise GradingError(str(exc)) from None
    exercise = exercise_of(nb, p)
    _warm_up()
    seed = secrets.randbits(31) if seed is None else int(seed)
    cases = {q.id: q.draw_cases(seed + i) for i, q in enumerate(exercise.questions)}
    cells = code_cells(nb)
    skip: set[int] = set()
    reports: dict[str, Any] = {}
    cell_errors: list[str] = []
    for _ in range(len(cells) + len(exercise.questions) + 1):
        messages, problem = _run_child(cells, skip, exercise, cases, set(reports), limits)
        current: tuple[str, Any] | None = None
        for m in messages:
            if "cell" in m:
                current = ("cell", m["cell"])
            elif "cell_error" in m:
                if m["error"] not in cell_errors:
                    cell_errors.append(m["error"])
            elif "question" in m:
                current = ("question", m["question"])
            elif "report" in m:
                reports[m["report"]] = m["data"]
                current = None
        if not problem:
            break
        if current is None:
            break
        kind, which = current
        if kind == "cell":
            skip.add(int(which))
            verb = "ran too long" if problem == "timeout" else "ended the process"
            cell_errors.append(f"cell {int(which) + 1} {verb} and was skipped")
        else:
            reports[which] = {problem: True}
    results = []
    for i, question in enumerate(exercise.questions):
        report = reports.get(question.id)
        qseed = seed + i
        if report is None or report.get("crashed"):
            results.append(failure(question, CRASHED, "the answer ended the grading process "
                                   "(os._exit, a crash or running out of memory)", qseed))
        elif report.get("timeout"):
            results.append(failure(question, TIMEOUT, f"the tests did not finish within "
                                   f"{limits.for_question(question):g} s (an endless loop?)", qseed))
        else:
            results.append(judge(question, cases[question.id], from_plain(report), qseed))
    name = student if student is not None else p.resolve().parent.name
    return SubmissionResult(exercise.number, name, seed, results, cell_errors)
