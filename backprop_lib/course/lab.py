"""Start JupyterLab on the course: its folder as the root, the first lesson open, no pop-ups.

``backprop-course lab`` is the one command a student needs. It runs the JupyterLab of the current
Python environment with

- the course folder (the one holding ``lessons/`` and ``exercises/``) as the file browser's root,
  so that lessons and exercises sit side by side;
- the first lesson opened in the browser;
- no question about fetching Jupyter's news and no check for newer JupyterLab releases: the
  course's default settings (``jupyter_config/labconfig/default_setting_overrides.json`` next to
  this module) are added to ``JUPYTER_CONFIG_PATH`` for this launch only, so the student's own
  JupyterLab settings still win and other launches of JupyterLab are not affected;
- ``--allow-root`` when it runs as root, as in a container, where JupyterLab otherwise refuses.

Anything else on the command line is passed to JupyterLab (``--port 9000``, ``--no-browser``, ...).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# JupyterLab reads default_setting_overrides.json from the labconfig folder of each config folder
CONFIG = Path(__file__).resolve().parent / "jupyter_config"
# the repository, when the package is installed from it in editable mode
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


class NoCourse(Exception):
    """Raised when no course folder can be found; the message says where it looked."""


def course_root(start: Path) -> Path:
    """The course folder: the nearest folder at or above ``start`` with a ``lessons/`` folder, else
    the folder this package was installed from (an editable install of the repository)."""
    for folder in (start, *start.parents, PACKAGE_PARENT):
        if (folder / "lessons").is_dir():
            return folder
    raise NoCourse(f"no course here: neither {start} nor a folder above it, nor {PACKAGE_PARENT}, holds a "
                   "lessons/ folder; run this command in the course's folder")


def first_lesson(root: Path) -> Path | None:
    lessons = sorted((root / "lessons").glob("[0-9][0-9]_*.ipynb"))
    return lessons[0] if lessons else None


def lab_command(root: Path, extra: Sequence[str] = (), *, as_root: bool | None = None) -> list[str]:
    """The command line that starts JupyterLab on the course folder ``root``.

    ``extra`` goes to JupyterLab as given; an existing file or folder named in it replaces the first
    lesson as the thing to open.
    """
    if as_root is None:
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    if as_root and "--allow-root" not in extra:
        command.append("--allow-root")
    lesson = first_lesson(root)
    if lesson is not None and not any(not arg.startswith("-") and Path(arg).exists() for arg in extra):
        command.append(str(lesson))
    command.extend(extra)
    return command


def lab_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the course's JupyterLab defaults first on ``JUPYTER_CONFIG_PATH``."""
    extra = [path for path in environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if path]
    return {**environ, "JUPYTER_CONFIG_PATH": os.pathsep.join([str(CONFIG), *extra])}


def run_lab(start: Path, extra: Sequence[str]) -> int:
    """Start JupyterLab; on POSIX the process becomes JupyterLab, so Ctrl-C reaches it alone."""
    command = lab_command(course_root(start), extra)
    environment = lab_environment(os.environ)
    if os.name != "posix":  # pragma: no cover - Windows has no exec that keeps the console
        return subprocess.call(command, env=environment)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environment)  # returns only when replaced, as in the tests
    return 0
