"""The student's side of grading: run a question's cases on the notebook's namespace.

This module runs in the process that holds the student's code (the sandbox, or the student's own
kernel for ``check``). It returns plain data only; judging happens elsewhere. It imports nothing of
the trusted half of grading (references, mistakes, cases).
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from .plain import NotPlain, to_plain
from .probes import Probe

MAX_MESSAGE = 300


def _resolve(dotted: str) -> tuple[Any, str]:
    """``"backprop_lib.graph.Graph.reverse_mode"`` -> (the Graph class, "reverse_mode")."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise ImportError(f"cannot find {dotted}")


SPY = "__backprop_course_spy__"


def _spy_code(dotted: str):
    """Code that reports a call to ``dotted`` and then runs the original (found in the globals)."""
    source = f"def spy(*args, **kwargs):\n    return {SPY}({dotted!r}, args, kwargs)\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<watching {dotted}>", "exec"), namespace)
    return namespace["spy"].__code__


@contextmanager
def watching(names: Sequence[str]) -> Iterator[list[str]]:
    """Record every call of the library functions ``names`` while the block runs.

    The function objects themselves get new code, so an answer that imported the function under
    another name, before grading began, is caught too. The original code is always restored.
    """
    called: list[str] = []
    swapped = []
    originals: dict[str, Any] = {}
    for dotted in names:
        owner, attr = _resolve(dotted)
        fn = inspect.unwrap(getattr(owner, attr))
        if not isinstance(fn, types.FunctionType) or fn.__closure__:
            raise TypeError(f"cannot watch {dotted}: not a plain Python function")
        clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__kwdefaults__ = fn.__kwdefaults__
        originals[dotted] = clone
        swapped.append((fn, fn.__code__))

    def spy(dotted: str, args: tuple, kwargs: dict) -> Any:
        called.append(dotted)
        return originals[dotted](*args, **kwargs)

    for fn, _ in swapped:
        fn.__globals__[SPY] = spy
    try:
        for (fn, _), dotted in zip(swapped, names):
            fn.__code__ = _spy_code(dotted)
        yield called
    finally:
        for fn, code in swapped:
            fn.__code__ = code
            fn.__globals__.pop(SPY, None)


_LIBRARY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # backprop_lib/
_SYSTEM = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def _students(filename: str) -> bool:
    """Whether code compiled from ``filename`` is the student's: a notebook cell (the grader's
    ``<cell N>``, or the file a Jupyter kernel writes a cell to), not the library, Python or numpy."""
    if filename.startswith("<cell "):
        return True
    if filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    return not path.startswith(_SYSTEM) and not path.startswith(_LIBRARY + os.sep) and "site-packages" not in path


def _where(exc: BaseException) -> list[Any] | None:
    """The innermost frame of the student's code in ``exc``'s traceback: [file name, line, function]."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if _students(code.co_filename):
            found = [code.co_filename[:200], int(tb.tb_lineno), code.co_name[:100]]
        tb = tb.tb_next
    return found


def _error(exc: BaseException) -> dict[str, Any]:
    message = str(exc)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "..."
    outcome: dict[str, Any] = {"error": [type(exc).__name__, message]}
    try:
        at = _where(exc)
    except Exception:  # a traceback the answer tampered with: report the error without its place
        at = None
    if at is not None:
        outcome["at"] = at
    return outcome


def run_cases(probe: Probe, namespace: Mapping[str, Any], inputs: Sequence[Mapping[str, Any]],
              starting: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Plain outcomes of the cases with these ``inputs``: ``{"outcomes": [...]}`` or ``{"missing": [names]}``.
    ``starting(i)`` is told before case ``i`` runs (the sandbox announces it, so a timeout can say
    how many cases had finished)."""
    missing = [name for name in probe.symbols if name not in namespace]
    if missing:
        return {"missing": missing}
    outcomes = []
    with watching(probe.forbidden) as called:
        for index, case_inputs in enumerate(inputs):
            if starting is not None:
                starting(index)
            del called[:]
            try:
                outcome = {"value": to_plain(probe(namespace, case_inputs))}
            except NotPlain as exc:
                outcome = {"error": ["TypeError", f"the answer returned {exc}"]}
            except Exception as exc:  # the student's code may raise anything; it is reported, not re-raised
                outcome = _error(exc)
            if called:
                outcome = {"reference": called[0]}
            outcomes.append(outcome)
    return {"outcomes": outcomes}
