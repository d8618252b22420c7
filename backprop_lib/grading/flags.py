"""Notes for the instructor about code that reaches past its own functions.

An honest answer has no reason to walk the interpreter's frames, the garbage collector's objects,
raw memory (``ctypes``), the process table (``/proc``) or the grading package. Such code is not
proof of cheating, and the sandbox already keeps the answers out of its reach, so a flag changes
no score: it is a note in the gradebook and the feedback for a person to read. The scan runs in
the judge, on the notebook's text, so the submission cannot hide from it by what it does at run time.
"""
from __future__ import annotations

import re

CHECKS = (
    ("interpreter frames", re.compile(r"_getframe|currentframe|\bf_back\b|\bf_globals\b|\bf_locals\b|\btb_frame\b"
                                      r"|\bgi_frame\b|\bcr_frame\b|inspect\s*\.\s*(stack|trace|getouterframes)")),
    ("the garbage collector", re.compile(r"\bimport\s+gc\b|\bfrom\s+gc\s+import\b|\bgc\s*\.\s*get_(objects|referrers|referents)"
                                         r"|__import__\(\s*['\"]gc['\"]")),
    ("ctypes (raw memory)", re.compile(r"\bctypes\b|\bcffi\b")),
    ("/proc (other processes)", re.compile(r"/proc\b")),
    ("the grading package", re.compile(r"backprop_lib\s*\.\s*grading|grading\s*\.\s*(judge|spec|runner|sandbox|worker|probe)"
                                       r"|['\"]backprop_lib\.grading")),
)
# The one use of the grading package an exercise notebook makes on purpose.
_ALLOWED = re.compile(r"^\s*from\s+backprop_lib\.grading\s+import\s+check\s*(#.*)?$", re.MULTILINE)


def notebook_flags(cells: list[str], numbers: list[int] | None = None) -> list[str]:
    """One note per kind of reach, naming the first cell where it occurs: by its number among all the
    notebook's cells (``numbers``, one per code cell), as a student counts them, else among code cells."""
    notes = []
    for what, pattern in CHECKS:
        for index, source in enumerate(cells):
            if pattern.search(_ALLOWED.sub("", source)):
                where = f"cell {numbers[index]}" if numbers is not None else f"code cell {index + 1}"
                notes.append(f"{where} reaches for {what}; look at it (the score is unchanged)")
                break
    return notes
