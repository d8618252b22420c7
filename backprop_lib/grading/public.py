"""The questions of a student release: ``check`` judged from stored data, not from reference code.

A student release (``backprop-course release student DIR``) holds neither ``solutions/`` nor the
trusted half of the questions (the ``exNN`` modules, whose references compute every graded
result). What ``check`` needs of that half is stored as data in ``visible.json``, next to this
module, which ``backprop-course build`` writes from the trusted half with the fixed visible seed
(``spec.VISIBLE_SEED``). For each question it holds

- ``id``, ``points``, ``title``, the tolerances ``rtol`` and ``atol`` and the ``credit`` rule;
- ``cases``: the visible cases, each with its ``name``, the ``inputs`` the probe receives, what
  only the judge sees (``hidden``, when the case has any) and the ``expected`` output (what the
  reference returns);
- ``mistakes``: the known mistakes that data can describe, in the question's order. A mistake made
  with ``Mistake.answer`` keeps its tolerances and, in ``outputs``, the result of its ``wrong``
  function on each case where that function gives one (keyed by the case's index); a mistake made
  with ``Mistake.raises`` keeps the exception type (``raises``). Mistakes with detectors of their
  own cannot be stored: ``autograder only`` lists their names, and only the autograder names them;
- ``accept``: for a question with no single right output (the trained weights of 06.train), the
  name of a rule in ``ACCEPT_RULES``. A rule gets the answer's value, the case's inputs with its
  hidden part, and the case's expected output, and returns None or what is wrong; it may use the
  probes' public functions, which the release keeps.

Values are plain data as ``plain.to_plain`` encodes it (numpy arrays included), read back with the
judge's own decoder; tuples are kept apart from lists (``{"__tuple__": [...]}``), since a probe
hands the inputs to the student's code as they are.

``questions`` turns the data into ``spec.Question`` objects: the reference returns the stored
output of the case it is asked about, each stored mistake compares the answer with its stored wrong
output by ``close``, and ``judge.judge`` scores them exactly as it scores the full questions, so
the feedback is the same wherever the data describes what the full question knows.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


from .plain import NotPlain, to_plain
from .probes import PROBES
from .probes.ex06 import held_out_verdict
from .protocol import ProtocolError, plain_value
from .spec import VISIBLE_SEED, Case, Mistake, Question

DATA = Path(__file__).with_name("visible.json")
FORMAT = 1
TUPLE = "__tuple__"
Inputs = Mapping[str, Any]


class DataError(Exception):
    """The stored data is missing, unreadable or for another version of the course; one line."""


# --- values as data ----------------------------------------------------------------------------------------


def encode(x: Any) -> Any:
    """``x`` as JSON-ready data: ``plain.to_plain``, with tuples marked as such."""
    if type(x) is tuple:
        return {TUPLE: [encode(v) for v in x]}
    if type(x) is list:
        return [encode(v) for v in x]
    if type(x) is dict:
        if any(type(k) is not str for k in x) or TUPLE in x:
            raise NotPlain(f"a dict with keys that are not strings (or the key {TUPLE!r})")
        return {k: encode(v) for k, v in x.items()}
    return to_plain(x)


def _tuples(x: Any) -> Any:
    if isinstance(x, dict):
        if set(x) == {TUPLE} and isinstance(x[TUPLE], list):
            return tuple(_tuples(v) for v in x[TUPLE])
        return {k: _tuples(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_tuples(v) for v in x]
    return x


def decode(x: Any) -> Any:
    """``encode`` undone: numpy arrays rebuilt by the judge's decoder, tuples restored."""
    return _tuples(plain_value(x))


def case_key(inputs: Inputs) -> str:
    """One string per case: the judged inputs as data (the reference and the mistakes look up by it)."""
    return json.dumps(encode(dict(inputs)), sort_keys=True)


# --- verdicts for questions judged by a rule instead of an expected output ---------------------------------

ACCEPT_RULES: dict[str, Callable[[Any, Inputs, Any], str | None]] = {"held-out accuracy": held_out_verdict}


# --- questions from data -----------------------------------------------------------------------------------


def _stored(outputs: Mapping[str, Any], inputs: Inputs, what: str) -> Any:
    key = case_key(inputs)
    if key not in outputs:
        raise ValueError(f"no {what} stored for these inputs")  # as a wrong answer that cannot be formed
    return outputs[key]


def _mistake(entry: Mapping[str, Any], keys: list[str]) -> Mistake:
    if "raises" in entry:
        return Mistake.raises(entry["name"], entry["feedback"], entry["raises"])
    outputs = {keys[int(index)]: decode(value) for index, value in entry["outputs"].items()}
    return Mistake.answer(entry["name"], entry["feedback"], lambda inputs: _stored(outputs, inputs, "wrong output"),
                          rtol=entry["rtol"], atol=entry["atol"])


def question(entry: Mapping[str, Any]) -> Question:
    """The ``spec.Question`` that one question's data describes (its cases are all visible)."""
    qid = entry["id"]
    if qid not in PROBES:
        raise DataError(f"question {qid} has no probe in this copy of the course")
    cases = [Case(c["name"], decode(c["inputs"]), True, decode(c.get("hidden", {}))) for c in entry["cases"]]
    keys = [case_key(case.judged) for case in cases]
    expected = {key: decode(c["expected"]) for key, c in zip(keys, entry["cases"])}

    def reference(inputs: Inputs) -> Any:
        return _stored(expected, inputs, "expected output")

    rule = None
    if entry.get("accept") is not None:
        rule = ACCEPT_RULES.get(entry["accept"])
        if rule is None:
            raise DataError(f"question {qid} is judged by the rule {entry['accept']!r}, which this copy does not know")

    def accept(value: Any, inputs: Inputs) -> str | None:
        return rule(value, inputs, reference(inputs))

    return Question(id=qid, points=entry["points"], title=entry["title"], cases=lambda rng: cases,
                    probe=PROBES[qid], reference=reference, mistakes=tuple(_mistake(m, keys) for m in entry["mistakes"]),
                    rtol=entry["rtol"], atol=entry["atol"], accept=accept if rule else None, credit=entry["credit"])


def questions(data: Mapping[str, Any]) -> dict[str, Question]:
    """Every question the data describes, by id."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("seed") != VISIBLE_SEED:
        raise DataError("the stored visible tests are for another version of the course")
    try:
        return {entry["id"]: question(entry) for entry in data["questions"]}
    except (KeyError, TypeError, ValueError, IndexError, ProtocolError) as exc:
        raise DataError(f"the stored visible tests are malformed ({type(exc).__name__}: {exc})") from None


@functools.lru_cache(maxsize=1)
def load(path: Path = DATA) -> dict[str, Question]:
    """The questions of ``visible.json``, read once."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"the visible tests cannot be read from {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise DataError(f"the visible tests in {path} are not JSON") from None
    return questions(data)


def find_question(question_id: str) -> Question:
    found = load()
    if question_id not in found:
        raise KeyError(f"no question {question_id!r}; the questions are: {', '.join(sorted(found))}")
    return found[question_id]
