"""What the judge accepts from the sandbox: a strict schema, read as hostile input.

Every message a child sends is checked against the step the judge expects next: cells in
increasing order, then the questions of the job in order, each announcing its cases in order and ending in one
report, then the end. Keys,
types, question ids, the number of outcomes, string lengths, nesting depth and array sizes are
all checked; strings lose control characters, direction overrides and lone surrogates, so nothing
shown to a student or an instructor can redraw a terminal or break a file's encoding. Anything
else is a ``ProtocolError``.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

MAX_DEPTH = 20
MAX_NODES = 200_000  # numbers, strings, lists and dicts in one value
MAX_STRING = 10_000
MAX_ELEMENTS = 20_000_000  # in all the arrays of one value
ARRAY_KEY = "__ndarray__"
DTYPES = {"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "|?"}

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


class ProtocolError(ValueError):
    """A message that is not what the judge expects at this point."""


def _replacement(match: re.Match) -> str:
    char = match.group()
    if char in "\t\n\r":
        return " "
    return "\ufffd" if "\ud800" <= char <= "\udfff" else ""


def clean_text(text: Any, limit: int) -> str:
    """``text`` as a safe, printable, encodable string of at most ``limit`` characters."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return _UNSAFE.sub(_replacement, text)


def _decode_array(item: dict, budget: list[int]) -> np.ndarray:
    if set(item) != {ARRAY_KEY, "dtype", "shape"}:
        raise ProtocolError("an array with unknown keys")
    dtype, shape, data = item["dtype"], item["shape"], item[ARRAY_KEY]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ProtocolError("an array of a refused dtype")
    if (not isinstance(shape, list) or len(shape) > 32
            or not all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape)):
        raise ProtocolError("an array with a malformed shape")
    count = math.prod(shape)
    budget[1] -= count
    if count > MAX_ELEMENTS or budget[1] < 0:
        raise ProtocolError("arrays too large")
    if not isinstance(data, str):
        raise ProtocolError("an array without data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("an array with malformed data") from None
    kind = np.dtype(dtype)
    if len(raw) != count * kind.itemsize:
        raise ProtocolError("an array whose data does not fit its shape")
    return np.frombuffer(raw, dtype=kind).reshape(shape).copy()


def plain_value(x: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """Decoded JSON from the sandbox, checked and made safe; numpy arrays rebuilt."""
    budget = budget if budget is not None else [MAX_NODES, MAX_ELEMENTS]
    budget[0] -= 1
    if budget[0] < 0:
        raise ProtocolError("a value with too many parts")
    if depth > MAX_DEPTH:
        raise ProtocolError("a value nested too deeply")
    if x is None or type(x) in (bool, int, float):
        return x
    if type(x) is str:
        return clean_text(x, MAX_STRING)
    if type(x) is list:
        return [plain_value(v, depth + 1, budget) for v in x]
    if type(x) is dict:
        if ARRAY_KEY in x:
            return _decode_array(x, budget)
        return {clean_text(k, 200): plain_value(v, depth + 1, budget) for k, v in x.items()}
    raise ProtocolError("a value that is not plain data")


def loads(text: str) -> Any:
    """``plain.dumps`` undone, as the judge reads a value."""
    return plain_value(json.loads(text))


def _strings(x: Any, limit: int, count: int, what: str) -> list[str]:
    if not isinstance(x, list) or len(x) > count or not all(isinstance(s, str) for s in x):
        raise ProtocolError(f"malformed {what}")
    return [clean_text(s, limit) for s in x]


def _place(at: Any) -> list[Any]:
    """Where an error happened, as the probe reports it: [file name, line, function]."""
    if (not isinstance(at, list) or len(at) != 3 or not isinstance(at[0], str) or type(at[1]) is not int
            or not 0 < at[1] < 10**7 or not isinstance(at[2], str)):
        raise ProtocolError("a malformed error place")
    return [clean_text(at[0], 200), at[1], clean_text(at[2], 100)]


def _outcome(item: Any) -> dict[str, Any]:
    if isinstance(item, dict) and set(item) == {"error", "at"}:
        kind, message = _strings(item["error"], 400, 2, "error")
        return {"error": [kind[:100], message], "at": _place(item["at"])}
    if not isinstance(item, dict) or len(item) != 1:
        raise ProtocolError("a malformed outcome")
    (key, value), = item.items()
    if key == "value":
        return {"value": plain_value(value)}
    if key == "error":
        kind, message = _strings(value, 400, 2, "error")
        return {"error": [kind[:100], message]}
    if key == "reference" and isinstance(value, str):
        return {"reference": clean_text(value, 200)}
    raise ProtocolError("a malformed outcome")


def decode_report(data: Any, cases: int) -> dict[str, Any]:
    """A probe's report for ``cases`` cases, checked and decoded as the judge reads it."""
    if not isinstance(data, dict) or len(data) != 1:
        raise ProtocolError("a malformed report")
    (key, value), = data.items()
    if key == "missing":
        return {"missing": _strings(value, 100, 50, "names")}
    if key == "timeout" and value is True:
        return {"timeout": True}
    if key == "outcomes" and isinstance(value, list) and len(value) == cases:
        return {"outcomes": [_outcome(o) for o in value]}
    raise ProtocolError("a malformed report")


class Expectation:
    """The steps one child may announce, in order; ``accept`` checks and cleans each message."""

    def __init__(self, cells: int, skip: Iterable[int], questions: list[str], cases: dict[str, int]):
        self.cells, self.skip = cells, set(skip)
        self.questions, self.cases = questions, cases
        self.last_cell = -1
        self.current_cell: int | None = None
        self.next_question = 0
        self.current_question: str | None = None
        self.next_case = 0
        self.finished = False

    def accept(self, body: bytes) -> dict[str, Any]:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            raise ProtocolError("a message that is not JSON") from None
        if not isinstance(message, dict) or self.finished:
            raise ProtocolError("a message out of place")
        keys = set(message)
        if keys == {"cell"}:
            index = message["cell"]
            if (type(index) is not int or not self.last_cell < index < self.cells or index in self.skip
                    or self.next_question or self.current_question is not None):
                raise ProtocolError("a cell out of order")
            self.last_cell = self.current_cell = index
            return {"cell": index}
        if keys == {"cell_error", "error"}:
            if message["cell_error"] != self.current_cell or type(message["cell_error"]) is not int \
                    or not isinstance(message["error"], str):
                raise ProtocolError("a cell error out of place")
            return {"cell_error": self.current_cell, "error": clean_text(message["error"], 300)}
        if keys == {"question"}:
            qid = message["question"]
            if (self.current_question is not None or self.next_question >= len(self.questions)
                    or qid != self.questions[self.next_question]):
                raise ProtocolError("a question out of order")
            self.current_question, self.current_cell, self.next_case = qid, None, 0
            return {"question": qid}
        if keys == {"case"}:
            index = message["case"]
            if (self.current_question is None or type(index) is not int or index != self.next_case
                    or index >= self.cases[self.current_question]):
                raise ProtocolError("a case out of order")
            self.next_case += 1
            return {"case": index}
        if keys == {"report", "data"}:
            qid = message["report"]
            if qid != self.current_question or qid is None:
                raise ProtocolError("a report out of place")
            report = decode_report(message["data"], self.cases[qid])
            self.current_question = None
            self.next_question += 1
            return {"report": qid, "data": report}
        if keys == {"finished"} and message["finished"] is True:
            if self.current_question is not None or self.next_question != len(self.questions):
                raise ProtocolError("the end announced too early")
            self.finished = True
            return {"finished": True}
        raise ProtocolError("an unknown message")
