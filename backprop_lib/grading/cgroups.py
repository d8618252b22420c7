"""Caps on a sandbox as a whole: how many processes and how much memory all of it may use.

Resource limits (``setrlimit``) are per process, and the kernel does not count processes against
``RLIMIT_NPROC`` for root, so a grader run as root (a container, CI) needs a control group to cap
a fork bomb. Where this process may create control groups (root, or a delegated cgroup v2 tree),
each sandbox gets one with ``pids.max`` and a memory limit; elsewhere the per-process limits are
all there is, and ``Cap.active`` says so. Both cgroup v2 and the v1 ``pids`` and ``memory``
hierarchies are handled.
"""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from .worker import children_by_parent

ROOT = Path("/sys/fs/cgroup")
_names = itertools.count()


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per controller ("" for the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False


class Cap:
    """A control group for one sandbox; ``add`` moves processes into it, ``remove`` deletes it."""

    def __init__(self, processes: int, memory_bytes: int):
        self.folders: list[Path] = []
        name = f"backprop-sandbox-{os.getpid()}-{next(_names)}"
        own = _own_paths()
        if (ROOT / "cgroup.controllers").exists():
            self._v2(ROOT / own.get("", "/").lstrip("/"), name, processes, memory_bytes)
        else:
            for controller, limit in (("pids", ("pids.max", str(processes))),
                                      ("memory", ("memory.limit_in_bytes", str(memory_bytes)))):
                base = ROOT / controller
                if controller in own and base.is_dir():
                    self._make(base / own[controller].lstrip("/") / name, [limit])

    def _v2(self, parent: Path, name: str, processes: int, memory_bytes: int) -> None:
        enabled = (parent / "cgroup.subtree_control")
        try:
            have = enabled.read_text().split()
        except OSError:
            return
        for controller in ("pids", "memory"):
            if controller not in have:
                _write(enabled, f"+{controller}")
        limits = [("pids.max", str(processes)), ("memory.max", str(memory_bytes)), ("memory.swap.max", "0")]
        self._make(parent / name, limits)

    def _make(self, folder: Path, limits: list[tuple[str, str]]) -> None:
        try:
            folder.mkdir()
        except OSError:
            return
        if all(_write(folder / key, value) for key, value in limits if (folder / key).exists()) and any(
                (folder / key).exists() for key, _ in limits):
            self.folders.append(folder)
        else:
            _rmdir(folder)

    @property
    def active(self) -> bool:
        return bool(self.folders)

    def add(self, pids: list[int]) -> bool:
        """Move ``pids`` into the group; their later children are born in it."""
        ok = bool(self.folders)
        for folder in self.folders:
            for pid in pids:
                ok = _write(folder / "cgroup.procs", str(pid)) and ok
        return ok

    def remove(self) -> None:
        for folder in self.folders:
            _rmdir(folder)
        self.folders = []


def _rmdir(folder: Path, seconds: float = 2.0) -> None:
    """Remove an emptied group; its last processes may take a moment to be gone."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (read from /proc)."""
    children = children_by_parent()
    found, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
