"""The long commands' progress bar: drawn on a terminal, and nothing at all in a log or a pipe."""
from __future__ import annotations

import io
import sys

from backprop_lib.course.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    with progress_bar(3, "grading") as bar:
        bar.update()
    assert "grading:" in sys.stderr.getvalue() and "/3" in sys.stderr.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress_bar(3, "grading") as bar:
        bar.update()
    assert sys.stderr.getvalue() == ""
