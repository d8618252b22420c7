"""PyTorch for the comparison tests, imported when a test first uses it.

Every test process collects every test module, and importing torch costs about a second of processor;
importing it on first use leaves that cost to the one process that runs the comparisons.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import pytest

AVAILABLE = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not AVAILABLE, reason="PyTorch is not installed")


class _OnFirstUse:
    """A module that is imported the first time one of its attributes is read."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"


torch = _OnFirstUse("torch")
F = _OnFirstUse("torch.nn.functional")
