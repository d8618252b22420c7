"""The class report: one self-contained page with each exercise's score distribution, each
question's pass rate and the known mistakes the class made, counted."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from backprop_lib.grading import gradebook
from backprop_lib.grading.registry import EXERCISES
from backprop_lib.grading.report import class_statistics, write_report

PR, ND = "01.product_rule", "01.numerical_derivative"


def _result(student: str, product_rule: tuple[float, str, list[str]], numerical: float = 3.0) -> dict:
    score, status, mistakes = product_rule
    questions = [
        {"id": ND, "score": numerical, "max_score": 3, "status": "passed" if numerical == 3 else "failed",
         "feedback": "", "seed": 1, "cases_passed": 3, "cases_total": 3, "mistakes": []},
        {"id": PR, "score": score, "max_score": 2, "status": status, "feedback": "", "seed": 1,
         "cases_passed": 0, "cases_total": 4, "mistakes": mistakes}]
    return {"student": student, "exercise": "01", "score": score + numerical, "max_score": 5, "seed": 1,
            "questions": questions}


def make_class_gradebook(folder: Path) -> Path:
    """Five students of exercise 01: two right, two who multiplied the derivatives (one of whom also
    dropped a term), one who dropped a term; and one file the grader could not read."""
    db = folder / "grades.db"
    product = "product of the derivatives"
    rows = [("ada", (2.0, "passed", [])), ("bob", (2.0, "passed", [])), ("cy", (0.0, "failed", [product])),
            ("di", (0.0, "failed", [product, "only one term <b>of</b> the product rule"])),
            ("ed", (1.0, "failed", ["only one term <b>of</b> the product rule"]))]
    with gradebook.connect(db) as book:
        for student, pr in rows:
            gradebook.record(book, _result(student, pr), student.ljust(64, "0"), f"{student}/01.ipynb")
        gradebook.record_error(book, "fay/01.ipynb", "f" * 64, "not a notebook")
    return db


def test_the_statistics_count_passes_scores_and_each_mistake_once_per_student(tmp_path):
    exercises, errors = class_statistics(make_class_gradebook(tmp_path))
    assert errors == 1 and list(exercises) == ["01"]
    stats = exercises["01"]
    assert sorted(stats.scores) == [3.0, 3.0, 4.0, 5.0, 5.0]
    assert list(stats.questions) == [ND, PR]  # in the exercise's order
    product = stats.questions[PR]
    assert (product.students, product.passed, product.pass_rate, product.mean) == (5, 2, 0.4, 1.0)
    assert product.mistakes.most_common() == [("product of the derivatives", 2),
                                              ("only one term <b>of</b> the product rule", 2)]


def test_the_page_stands_alone_escapes_text_and_shows_every_exercise(tmp_path):
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-m", "backprop_lib", "report", str(make_class_gradebook(tmp_path)),
                          "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0 and "wrote the report of 1 exercise" in run.stdout, run.stderr
    page = out.read_text()
    assert f"Exercise 01: {EXERCISES['01'].title}" in page
    assert "5 students; mean 4.0, median 4 of 5; 2 with full marks." in page
    assert "40% (2/5)" in page and "1.00 / 2" in page
    assert "only one term &lt;b&gt;of&lt;/b&gt; the product rule" in page and "<b>of</b>" not in page
    assert "1 submitted file could not be graded" in page
    assert len(re.findall(r'<img class="figure"[^>]* src="data:image/png;base64,', page)) == 1
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere
    for name in ("ada", "bob", "fay"):  # counts only, never a student
        assert name not in page


def test_an_empty_or_missing_gradebook_gets_a_clear_answer(tmp_path):
    with gradebook.connect(tmp_path / "empty.db"):
        pass
    write_report(tmp_path / "empty.db", tmp_path / "empty.html")
    assert "holds no grades yet" in (tmp_path / "empty.html").read_text()
    missing = subprocess.run([sys.executable, "-m", "backprop_lib", "report", str(tmp_path / "none.db"), "-o",
                              str(tmp_path / "r.html")], capture_output=True, text=True)
    assert missing.returncode == 1 and "no such gradebook" in missing.stderr and "Traceback" not in missing.stderr
