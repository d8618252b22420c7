"""The class report: one self-contained HTML page of what a class got right and wrong.

For each exercise in the gradebook: the distribution of scores (a figure), and for each question
its pass rate, its mean score, and the known mistakes the grader named, with how many students
made each, most common first; so an instructor sees at a glance what to teach again. Figures are
PNG images inside the page (no network, no files beside it). The page shows counts only, never a
student's name or code.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..course.notebooks import write_whole
from ..course.progress import progress_bar
from . import gradebook
from .registry import EXERCISES, QUESTIONS


@dataclass
class QuestionStats:
    id: str
    max_score: float
    students: int = 0
    passed: int = 0
    total_score: float = 0.0
    mistakes: Counter = field(default_factory=Counter)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.students if self.students else 0.0

    @property
    def mean(self) -> float:
        return self.total_score / self.students if self.students else 0.0


@dataclass
class ExerciseStats:
    number: str
    max_score: float
    scores: list[float] = field(default_factory=list)
    questions: dict[str, QuestionStats] = field(default_factory=dict)


def class_statistics(db_path: str | os.PathLike) -> tuple[dict[str, ExerciseStats], int]:
    """Per exercise, the scores and each question's statistics; and the number of files the grader
    could not grade."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"{db_path}: no such gradebook")
    exercises: dict[str, ExerciseStats] = {}
    with gradebook.connect(db_path) as db:
        for exercise, score, max_score in db.execute("SELECT exercise, score, max_score FROM grades ORDER BY exercise"):
            exercises.setdefault(exercise, ExerciseStats(exercise, max_score)).scores.append(score)
        for exercise, qid, score, max_score, status, mistakes in db.execute(
                "SELECT exercise, question, score, max_score, status, mistakes FROM questions"):
            stats = exercises[exercise].questions.setdefault(qid, QuestionStats(qid, max_score))
            stats.students += 1
            stats.passed += status == "passed"
            stats.total_score += score
            stats.mistakes.update(set(json.loads(mistakes)))
        errors = db.execute("SELECT COUNT(*) FROM errors").fetchone()[0]
    order = {qid: i for i, qid in enumerate(QUESTIONS)}
    for stats in exercises.values():
        stats.questions = dict(sorted(stats.questions.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    return exercises, errors


def _histogram(stats: ExerciseStats) -> str:
    """The exercise's score distribution as a PNG, base64-encoded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.6), dpi=100)
    top = max(stats.max_score, max(stats.scores, default=0.0), 1.0)
    bins = min(int(top) + 1, 20)
    ax.hist(stats.scores, bins=bins, range=(0, top), color="#2b6cb0", edgecolor="white")
    ax.set_xlabel(f"score (out of {stats.max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1a202c; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #cbd5e0; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
.bar { display: inline-block; height: 0.8em; background: #c53030; vertical-align: middle; }
.ok { color: #2f855a; } .muted { color: #718096; }
ul { margin: 0; padding-left: 1.2em; }
"""


def _mistakes(stats: QuestionStats) -> str:
    if not stats.mistakes:
        return '<span class="muted">none named</span>' if stats.passed < stats.students else ""
    items = []
    for name, count in stats.mistakes.most_common():
        width = round(80 * count / stats.students)
        items.append(f'<li><span class="bar" style="width:{width}px"></span> <b>{count}</b> '
                     f'({count / stats.students:.0%}): {html.escape(name)}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def render(exercises: dict[str, ExerciseStats], errors: int, source: str) -> str:
    """The report's HTML."""
    students = max((len(e.scores) for e in exercises.values()), default=0)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Class report: {html.escape(source)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Class report</h1><p>From <code>{html.escape(source)}</code>: {len(exercises)} exercise"
             f"{'s' * (len(exercises) != 1)}, up to {students} student{'s' * (students != 1)} each."
             + (f" {errors} submitted file{'s' * (errors != 1)} could not be graded (see the gradebook's errors)."
                if errors else "") + "</p>"]
    if not exercises:
        parts.append("<p>The gradebook holds no grades yet.</p>")
    progress = progress_bar(len(exercises), "report", unit="exercise")
    for number, stats in exercises.items():
        progress.update()
        known = EXERCISES.get(number)
        title = f"Exercise {number}: {known.title}" if known else f"Exercise {number}"
        scores = sorted(stats.scores)
        median = statistics.median(scores)
        full = sum(s >= stats.max_score for s in scores)
        parts.append(f'<section class="exercise" id="exercise-{html.escape(number)}"><h2>{html.escape(title)}</h2>')
        parts.append(f"<p>{len(scores)} student{'s' * (len(scores) != 1)}; mean {sum(scores) / len(scores):.1f}, "
                     f"median {median:g} of {stats.max_score:g}; {full} with full marks.</p>")
        parts.append(f'<img class="figure" alt="distribution of the scores of exercise {html.escape(number)}" '
                     f'src="data:image/png;base64,{_histogram(stats)}">')
        parts.append("<table><thead><tr><th>question</th><th>passed</th><th>mean score</th>"
                     "<th>known mistakes named (students)</th></tr></thead><tbody>")
        for qid, q in stats.questions.items():
            question = QUESTIONS.get(qid)
            label = f"<code>{html.escape(qid)}</code>" + (f"<br><span class=\"muted\">{html.escape(question.title)}</span>"
                                                          if question else "")
            rate = f'<span class="ok">{q.pass_rate:.0%}</span>' if q.pass_rate == 1 else f"{q.pass_rate:.0%}"
            parts.append(f"<tr><td>{label}</td><td class=\"num\">{rate} ({q.passed}/{q.students})</td>"
                         f"<td class=\"num\">{q.mean:.2f} / {q.max_score:g}</td><td>{_mistakes(q)}</td></tr>")
        parts.append("</tbody></table></section>")
    progress.close()
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(db_path: str | os.PathLike, out: str | os.PathLike) -> dict[str, ExerciseStats]:
    """Write the class report of the gradebook ``db_path`` to ``out`` (whole or not at all)."""
    exercises, errors = class_statistics(db_path)
    page = render(exercises, errors, Path(db_path).name)
    write_whole(out, page)
    return exercises
