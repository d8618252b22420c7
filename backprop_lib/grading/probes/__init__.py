"""The probes: the only part of a question that runs beside the student's code.

A probe looks up the student's functions in the notebook's namespace, calls them on one case's
inputs and returns plain data. Probes hold no reference answer, no known mistake and no seed: the
sandbox imports this package and nothing else of the grading code, so what a submission can reach
there tells it nothing about the right answers.

Each module ``exNN`` here defines ``PROBES``, a dict from question id to ``Probe``; the trusted
question of the same id (``backprop_lib.grading.exNN``) uses that very probe.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Probe:
    """How a question calls the student: the names it needs, the call, the library code it forbids.

    ``forbidden`` lists dotted names of the library's own implementations that an answer may not
    call instead of its own code.
    """

    symbols: tuple[str, ...]
    call: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    forbidden: tuple[str, ...] = ()

    def __call__(self, namespace: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
        return self.call(namespace, inputs)


def _collect() -> dict[str, Probe]:
    probes: dict[str, Probe] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("ex") and info.name[2:].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            for qid, probe in module.PROBES.items():
                if qid in probes:
                    raise RuntimeError(f"probe {qid} is defined twice")
                probes[qid] = probe
    return probes


PROBES: dict[str, Probe] = _collect()

__all__ = ["PROBES", "Probe"]
