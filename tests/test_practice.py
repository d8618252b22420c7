"""The lessons' practice cells: reveal() never shows a value before a prediction, check() never raises,
and every registered self-check passes on its right answers and fails on its wrong ones."""
from __future__ import annotations

import importlib
import pkgutil
import re

import nbformat
import pytest

from backprop_lib import practice
from backprop_lib.practice import PRACTICES, check, reveal, verdict
from notebook_text import ROOT

MODULES = sorted(m.name for m in pkgutil.iter_modules(practice.__path__) if m.name.startswith("lesson_"))
for _name in MODULES:
    importlib.import_module(f"backprop_lib.practice.{_name}")
SAMPLES = {pid: samples for name in MODULES
           for pid, samples in getattr(importlib.import_module(f"backprop_lib.practice.{name}"), "SAMPLES", {}).items()}


def test_reveal_keeps_the_value_until_a_prediction_is_written(capsys):
    reveal(..., 0.125, what="df/dx")
    reveal(None, 0.125)
    out = capsys.readouterr().out
    assert "0.125" not in out and "prediction" in out


@pytest.mark.parametrize("guess, actual, right", [
    (0.25, 0.2501, True), (1, 0.25, False), (3e-9, 1e-9, False), (1.02e-9, 1e-9, True), (-4, -4.0, True), (4, -4, False),
])
def test_reveal_says_whether_a_prediction_was_right(capsys, guess, actual, right):
    reveal(guess, actual)
    out = capsys.readouterr().out
    assert ("Right." in out) is right and "You predicted" in out


def test_reveal_does_not_raise_on_a_prediction_that_is_not_a_number(capsys):
    reveal("a lot", 3.0)
    reveal([1, 2], 3.0)
    assert capsys.readouterr().out.count("not a number") == 2


def test_check_never_raises_and_names_what_is_missing(capsys):
    @practice.practice("99.double")
    def _double(f):
        return f(2) == 4, "doubles" if f(2) == 4 else "try 2 * x"

    try:
        def broken(x):
            return x / 0

        assert not verdict("99.double", ...).filled
        assert not verdict("99.double", {"a": ...}).filled
        assert verdict("99.double", lambda x: 2 * x).ok
        assert "try 2 * x" in verdict("99.double", lambda x: x).message
        assert "ZeroDivisionError" in verdict("99.double", broken).message
        assert not verdict("99.double", lambda x: (_ for _ in ()).throw(NotImplementedError)).filled
        assert "no self-check" in verdict("98.nothing", 1).message
        check("99.double", lambda x: 2 * x)
        check("99.double", ...)
        assert capsys.readouterr().out.splitlines() == [
            "[right] doubles", "[ ] not filled in yet: replace the ... with your answer, then run this cell again."]
    finally:
        PRACTICES.pop("99.double")


def test_a_practice_id_is_a_lesson_number_and_a_name():
    with pytest.raises(ValueError):
        practice.practice("double")


def test_every_self_check_has_right_and_wrong_samples():
    assert set(SAMPLES) == set(PRACTICES) - {"99.double"}
    for pid, (rights, wrongs) in SAMPLES.items():
        assert rights and wrongs, pid


@pytest.mark.parametrize("pid", sorted(SAMPLES))
def test_a_self_check_passes_its_right_answers_and_fails_its_wrong_ones(pid):
    rights, wrongs = SAMPLES[pid]
    for answer in rights:
        result = verdict(pid, *answer)
        assert result.ok, (pid, answer, result.message)
    for answer in wrongs:
        result = verdict(pid, *answer)
        assert result.filled and not result.ok, (pid, answer, result.message)
        assert result.message, pid


USED = re.compile(r"""\bcheck\(\s*["'](\d\d\.[\w.]+)["']""")


@pytest.mark.parametrize("lesson", sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_a_lesson_uses_only_self_checks_that_exist_and_stores_them_unanswered(lesson):
    cells = nbformat.read(lesson, as_version=4).cells
    for cell in cells:
        if cell.cell_type != "code":
            continue
        for pid in USED.findall(cell.source):
            assert pid in PRACTICES, pid
            assert pid.startswith(lesson.name[:2]), pid
            shown = "".join(out.get("text", "") for out in cell.outputs)
            assert shown.startswith("[ ] not filled in yet"), (pid, shown)
        if "reveal(" in cell.source:
            shown = "".join(out.get("text", "") for out in cell.outputs)
            assert "You predicted" not in shown, cell.source[:80]
