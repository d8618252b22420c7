"""Plain data: the only thing that crosses from a student's process to the grader's.

Student code may return objects that lie (``__eq__`` that is always true, ``__float__`` that
changes each call). So the student's process converts results to plain data, which is encoded as
JSON; the grader decodes it (``protocol.plain_value``, with its checks) into Python numbers,
strings, lists, dicts and numpy arrays that it built itself. Nothing the student wrote runs in the
grader.
"""
from __future__ import annotations

import base64
import json
import numbers
from typing import Any

import numpy as np

_ARRAY = "__ndarray__"
_SAFE_KINDS = "biuf"
MAX_DEPTH = 20


class NotPlain(TypeError):
    """A result that is not made of numbers, strings, lists, dicts and numeric arrays."""


def to_plain(x: Any, depth: int = 0) -> Any:
    """Convert ``x`` to JSON-ready data, or raise ``NotPlain`` naming what is not allowed."""
    if depth > MAX_DEPTH:
        raise NotPlain("the result is nested too deeply")
    if x is None or type(x) in (bool, str):
        return x
    if type(x) is int or type(x) is float:
        return x
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if type(x) is np.ndarray:
        if x.dtype.kind not in _SAFE_KINDS:
            raise NotPlain(f"an array of dtype {x.dtype} (numbers expected)")
        arr = np.ascontiguousarray(x, dtype=np.float64 if x.dtype.kind == "f" else x.dtype)
        return {_ARRAY: base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": arr.dtype.str,
                "shape": list(x.shape)}  # x's shape: ascontiguousarray makes a 0-d array 1-d
    if type(x) in (list, tuple):
        return [to_plain(v, depth + 1) for v in x]
    if type(x) is dict:
        if any(type(k) is not str for k in x):
            raise NotPlain("a dict with keys that are not strings")
        return {k: to_plain(v, depth + 1) for k, v in x.items()}
    raise NotPlain(f"a {type(x).__name__} (numbers, strings, lists, dicts or numpy arrays expected)")


def dumps(x: Any) -> str:
    return json.dumps(to_plain(x))


def is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
