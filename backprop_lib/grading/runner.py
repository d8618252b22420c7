"""Grade a submitted notebook: the student's code runs in a sandbox, the judging here.

The grader (the judge) reads the notebook, draws each question's cases from a fresh seed and
sends the sandbox's worker a job: the code cells and the inputs of the cases, nothing else. The
worker's child runs the cells top to bottom, then each question's probe, announcing each step
before it starts; the judge reads those messages as hostile input (``protocol``) and keeps the
clock. A cell or question that runs too long or ends the child is charged, the child is killed,
and a fresh child runs what is left, skipping what is settled. The whole submission has one
wall-clock budget that no message extends, and a byte budget for everything it sends.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..course.notebooks import COURSE_KEY, NotebookError, parse_notebook_json
from . import protocol
from .flags import notebook_flags
from .judge import CRASHED, PASSED, TIMEOUT, QuestionResult, failure, judge
from .protocol import ProtocolError, clean_text
from .registry import EXERCISES, find_exercise
from .sandbox import Sandbox, SandboxError, WorkerGone, regular_file
from .spec import Exercise

MAX_NOTEBOOK_BYTES = 16 * 1024**2
MAX_CODE_BYTES = 15 * 1024**2 + 512 * 1024  # the code must fit in one job frame (invalid UTF-8 triples once read)


@dataclass(frozen=True)
class Limits:
    """What one submission may use. ``question_seconds`` overrides every question's own time limit."""

    cell_seconds: float = 10.0
    question_seconds: float | None = None
    grace_seconds: float = 5.0  # beyond a phase's own limit, before the child is killed from outside
    memory_bytes: int = 2 * 1024**3  # per process
    file_bytes: int = 16 * 1024**2  # the largest file it may write
    processes: int = 64  # processes of the submission (where the kernel counts them: not for root)
    submission_seconds: float = 600.0  # everything, restarts included; no message extends it
    output_bytes: int = 64 * 1024**2  # everything the submission sends back
    messages: int = 10_000

    def for_question(self, question: Any) -> float:
        return self.question_seconds if self.question_seconds is not None else question.time_limit

    def budget(self, cells: int, exercise: Exercise) -> float:
        """The wall-clock budget of a submission: every phase at its limit, once, plus grace."""
        phases = cells * self.cell_seconds + sum(self.for_question(q) for q in exercise.questions)
        return min(self.submission_seconds, phases + 3 * self.grace_seconds)


class GradingError(Exception):
    """The submission cannot be graded (not a notebook, not an exercise): one line for the user."""


@dataclass
class SubmissionResult:
    exercise: str
    student: str
    seed: int
    questions: list[QuestionResult] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # for the instructor; they change no score
    isolation: str = ""

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> int:
        return sum(q.max_score for q in self.questions)

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "student": self.student, "score": self.score,
                "max_score": self.max_score, "seed": self.seed, "isolation": self.isolation,
                "questions": [q.as_dict() for q in self.questions], "cell_errors": self.cell_errors,
                "flags": self.flags}


def read_submission(path: str | os.PathLike, max_bytes: int = MAX_NOTEBOOK_BYTES) -> tuple[dict[str, Any], bytes]:
    """The notebook at ``path`` and its bytes; only a regular file of at most ``max_bytes``.

    Symbolic links, FIFOs and devices are refused before anything opens them (a FIFO would block,
    /dev/zero would never end), and the file is checked again once open.
    """
    p = Path(path)
    name = clean_text(str(p), 300)
    try:
        regular_file(p)
        if Path(os.path.abspath(p)).parent.is_symlink():
            raise ValueError("is in a folder that is a symbolic link; only notebooks in real folders are graded")
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise GradingError(f"{name}: no such file") from None
    except ValueError as exc:
        raise GradingError(f"{name}: {exc}") from None
    except OSError as exc:
        raise GradingError(f"{name}: cannot be read ({clean_text(exc.strerror or str(exc), 100)})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not os.path.stat.S_ISREG(info.st_mode):
            raise GradingError(f"{name}: not a regular file; only regular files are graded")
        if info.st_size > max_bytes:
            raise GradingError(f"{name}: {info.st_size:,} bytes; a notebook may have at most {max_bytes:,}")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise GradingError(f"{name}: more than {max_bytes:,} bytes; a notebook may have at most that")
    try:
        return parse_notebook_json(data, name), data
    except NotebookError as exc:
        raise GradingError(str(exc)) from None


def student_folder(path: str | os.PathLike) -> str:
    """The name of the folder holding a submission, as given (a link is not followed)."""
    return Path(os.path.abspath(path)).parent.name


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
    raise GradingError(f"{clean_text(str(path), 300)}: not one of the course's exercises ({known})")


def cell_numbers(nb: Mapping[str, Any]) -> list[int]:
    """For each code cell, its number as a student counts the notebook's cells (every cell, from 1)."""
    return [i + 1 for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"]


def _locator(cells: list[str], numbers: list[int]) -> Callable[[str, int, str], str | None]:
    """Words for where a student's function raised: the notebook cell, the line, and the code on it."""
    def locate(filename: str, line: int, function: str) -> str | None:
        found = re.fullmatch(r"<cell (\d+)>", filename)
        if not found or not 0 < int(found.group(1)) <= len(cells):
            return None
        index = int(found.group(1)) - 1
        lines = cells[index].splitlines()
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        inside = f"in `{function}`, " if function != "<module>" else ""
        return f"{inside}cell {numbers[index]}, line {line}" + (f": `{code[:120]}`" if code else "")
    return locate


def code_cells(nb: Mapping[str, Any]) -> list[str]:
    """The sources of the code cells, with IPython-only lines (``%magic``, ``!shell``) dropped."""
    sources = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            lines = [line for line in cell["source"].splitlines() if not line.lstrip().startswith(("%", "!"))]
            sources.append("\n".join(lines))
    return sources


# --- one run of a child ------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What the judge learnt from one child."""

    cell_errors: list[tuple[int, str]] = field(default_factory=list)  # (code cell index, what went wrong)
    reports: dict[str, Any] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)  # question id -> cases begun
    current: tuple[str, Any] | None = None  # the cell or question under way when it stopped
    problem: str | None = None  # "timeout", "crashed", "protocol", "flood", "budget"
    detail: str = ""


class _Submission:
    """The judge's state for one submission across its runs."""

    def __init__(self, exercise: Exercise, cells: list[str], cases: Mapping[str, list], limits: Limits):
        self.exercise, self.cells, self.cases, self.limits = exercise, cells, cases, limits
        self.deadline = time.monotonic() + limits.budget(len(cells), exercise)
        self.bytes = 0
        self.messages = 0

    def job(self, skip: set[int], pending: list[Any]) -> dict[str, Any]:
        limits = self.limits
        seconds = [limits.for_question(q) for q in pending]
        cpu = int(len(self.cells) * limits.cell_seconds + sum(seconds) + limits.grace_seconds) + 1
        return {"cells": self.cells, "skip": sorted(skip), "cell_seconds": limits.cell_seconds,
                "questions": [{"id": q.id, "inputs": [c.inputs for c in self.cases[q.id]], "seconds": s}
                              for q, s in zip(pending, seconds)],
                "limits": {"memory_bytes": limits.memory_bytes, "file_bytes": limits.file_bytes,
                           "cpu_seconds": cpu, "processes": limits.processes,
                           "scratch_bytes": 128 * 1024**2}}

    def run(self, sandbox: Sandbox, skip: set[int], pending: list[Any]) -> _Run:
        limits = self.limits
        state = protocol.Expectation(len(self.cells), skip, [q.id for q in pending],
                                     {q.id: len(self.cases[q.id]) for q in pending})
        run = _Run()
        sandbox.submit(self.job(skip, pending))
        phase_deadline = time.monotonic() + limits.cell_seconds + limits.grace_seconds  # the child's start
        finished = False
        while True:
            try:
                kind, body = sandbox.receive(min(phase_deadline, self.deadline))
            except TimeoutError:
                run.problem = "budget" if time.monotonic() >= self.deadline else "timeout"
                break
            except WorkerGone:  # killed from inside, or out of memory: charge the step under way
                run.problem = "crashed"
                sandbox.restart()
                return run
            if kind == "W":
                if isinstance(body, dict) and "exit" in body:
                    if not finished and run.problem is None:
                        run.problem = "crashed"
                    return run
                run.problem, run.detail = "protocol", "the submission broke the frames it sends"
                break
            self.bytes += len(body)
            self.messages += 1
            if self.bytes > limits.output_bytes or self.messages > limits.messages:
                run.problem = "flood"
                break
            try:
                message = state.accept(body)
            except ProtocolError as exc:
                run.problem, run.detail = "protocol", str(exc)
                break
            if "cell" in message:
                run.current = ("cell", message["cell"])
                phase_deadline = time.monotonic() + limits.cell_seconds + limits.grace_seconds
            elif "cell_error" in message:
                run.cell_errors.append((message["cell_error"], message["error"]))
            elif "case" in message:
                run.started[run.current[1]] = message["case"] + 1  # type: ignore[index]
            elif "question" in message:
                question = self.exercise_question(message["question"])
                run.current = ("question", message["question"])
                phase_deadline = time.monotonic() + limits.for_question(question) + limits.grace_seconds
            elif "report" in message:
                run.reports[message["report"]] = message["data"]
                run.current = None
                phase_deadline = time.monotonic() + limits.grace_seconds
            elif message.get("finished"):
                finished = True
                run.current = None
                phase_deadline = time.monotonic() + limits.grace_seconds
        self._stop(sandbox)
        return run

    def exercise_question(self, qid: str) -> Any:
        return next(q for q in self.exercise.questions if q.id == qid)

    def _stop(self, sandbox: Sandbox) -> None:
        """Kill the child and wait for the worker to say it is gone; a worker that does not is replaced."""
        try:
            sandbox.kill_job()
            deadline = time.monotonic() + self.limits.grace_seconds
            while True:
                kind, body = sandbox.receive(deadline)
                if kind == "W" and isinstance(body, dict) and "exit" in body:
                    return
        except (TimeoutError, WorkerGone):
            sandbox.restart()


def _too_long(question: Any, limits: Limits, begun: int, total: int) -> str:
    """Why a question ran out of time, as far as the cases it began tell: stuck on the first, or slow."""
    seconds = f"{limits.for_question(question):g} s"
    if begun <= 1:
        why = (f"the first of its {total} tests did not finish within {seconds}: a loop that never ends, "
               f"or an answer far too slow")
    else:
        why = (f"{begun - 1} of its {total} tests finished before the {seconds} for all of them ran out: "
               f"the answer runs, but too slowly")
    return f"{why}. {question.slow_hint}" if question.slow_hint else why


def _first_fix(exercise: Exercise, results: list[QuestionResult]) -> list[QuestionResult]:
    """Feedback of a failed question that builds on an earlier failed answer says to fix that one first."""
    status = {r.id: r.status for r in results}
    fixed = []
    for question, result in zip(exercise.questions, results):
        failed = [qid for qid in question.builds_on if status.get(qid, PASSED) != PASSED]
        if result.status != PASSED and failed:
            names = " and ".join(f"`{qid}`" for qid in failed)
            said = result.feedback.rstrip()
            said += "" if not said or said.endswith((".", "!", "?", ":")) else "."  # "not implemented yet"
            result = replace(result, feedback=f"{said} This question builds on {names}, which "
                                              f"failed too: fix {'that' if len(failed) == 1 else 'those'} first.".lstrip())
        fixed.append(result)
    return fixed


def grade_notebook(path: str | os.PathLike, seed: int | None = None, student: str | None = None,
                   limits: Limits = Limits(), sandbox: Sandbox | None = None) -> SubmissionResult:
    """Grade the notebook at ``path``; raises ``GradingError`` if it cannot be graded at all.

    ``sandbox`` is a started worker to use (a batch keeps one per job slot); without it, one is
    started for this notebook (with matplotlib imported if the notebook plots) and closed after it.
    """
    p = Path(path)
    nb, _ = read_submission(p)
    exercise = exercise_of(nb, p)
    cells = code_cells(nb)
    size = sum(len(c.encode("utf-8", "surrogatepass")) for c in cells)
    if size > MAX_CODE_BYTES:
        raise GradingError(f"{clean_text(str(p), 300)}: its code cells come to {size:,} bytes once read; "
                           f"at most {MAX_CODE_BYTES:,} can be graded")
    if sandbox is None:
        try:
            with Sandbox(warm=_plots(cells)) as own:  # started as the notebook needs it, not restarted
                return _grade(p, nb, exercise, cells, seed, student, limits, own)
        except SandboxError as exc:
            raise GradingError(f"the sandbox failed: {exc}") from None
    return _grade(p, nb, exercise, cells, seed, student, limits, sandbox)


# Words of a notebook that plots (matplotlib itself, or the course's modules that draw with it): it is
# graded by a worker that imported matplotlib as it started (see ``Sandbox.warm_up``), before the
# notebook's time starts.
PLOTTING = ("matplotlib", "plt", "viz", "widgets")


def _plots(cells: list[str]) -> bool:
    return any(word in cell for cell in cells for word in PLOTTING)


def _grade(p: Path, nb: Mapping[str, Any], exercise: Exercise, cells: list[str], seed: int | None,
           student: str | None, limits: Limits, sandbox: Sandbox) -> SubmissionResult:
    if _plots(cells):
        sandbox.warm_up()  # before the submission's clock starts
    seed = secrets.randbits(31) if seed is None else int(seed)
    cases = {q.id: q.draw_cases(seed + i) for i, q in enumerate(exercise.questions)}
    submission = _Submission(exercise, cells, cases, limits)
    skip: set[int] = set()
    reports: dict[str, Any] = {}
    cell_errors: list[str] = []
    numbers = cell_numbers(nb)
    started: dict[str, int] = {}
    notes: dict[str, None] = {}
    stopped: str | None = None
    for _ in range(len(cells) + len(exercise.questions) + 1):
        pending = [q for q in exercise.questions if q.id not in reports]
        try:
            run = submission.run(sandbox, skip, pending)
        except WorkerGone:  # gone before it took the job
            sandbox.restart()
            run = _Run(problem="crashed")
        for index, error in run.cell_errors:
            line = f"cell {numbers[index]} {error}" if error.startswith("ran longer") else f"cell {numbers[index]}: {error}"
            if line not in cell_errors:
                cell_errors.append(line)
        for qid, begun in run.started.items():
            started[qid] = max(started.get(qid, 0), begun)
        reports.update(run.reports)
        if run.problem is None:
            break
        if run.problem in ("budget", "flood"):
            stopped = run.problem
            break
        if run.problem == "protocol":
            notes[f"the submission sent the grader a malformed message ({run.detail})"] = None
        if run.current is None:
            unreported = [q.id for q in pending if q.id not in reports]
            if not run.reports or not unreported:
                break  # it ended before its first step, or after its last: nothing to charge and retry
            run.current = ("question", unreported[0])  # it ended between two questions: charge the next
        kind, which = run.current
        if kind == "cell":
            skip.add(int(which))
            verb = {"timeout": "ran too long", "protocol": "broke the grader's protocol"}.get(run.problem,
                                                                                         "ended the process")
            cell_errors.append(f"cell {numbers[int(which)]} {verb} and was skipped")
        else:
            reports[which] = {"timeout": True} if run.problem == "timeout" else {run.problem: True}
    results = []
    locate = _locator(cells, numbers)
    for i, question in enumerate(exercise.questions):
        report = reports.get(question.id)
        qseed = seed + i
        if report is None and stopped == "budget":
            results.append(failure(question, TIMEOUT, f"grading this notebook ran out of its "
                                   f"{limits.budget(len(cells), exercise):g} s budget before this question", qseed))
        elif report is None and stopped == "flood":
            results.append(failure(question, CRASHED, f"the notebook sent the grader more than "
                                   f"{limits.output_bytes:,} bytes or {limits.messages:,} messages", qseed))
        elif report is None or report.get("crashed"):
            results.append(failure(question, CRASHED, "the answer ended the grading process "
                                   "(os._exit, a crash or running out of memory)", qseed))
        elif report.get("protocol"):
            results.append(failure(question, CRASHED, "the answer broke the grader's protocol", qseed))
        elif report.get("timeout"):
            results.append(failure(question, TIMEOUT, _too_long(question, limits, started.get(question.id, 0),
                                                                 len(cases[question.id])), qseed, len(cases[question.id])))
        else:
            results.append(judge(question, cases[question.id], report, qseed, locate))
    results = _first_fix(exercise, results)
    name = student if student is not None else student_folder(p)
    flags = notebook_flags(cells, numbers) + list(notes)
    return SubmissionResult(exercise.number, clean_text(name, 200), seed, results, cell_errors, flags,
                            sandbox.isolation)

