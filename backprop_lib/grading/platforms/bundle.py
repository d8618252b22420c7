"""The course packed as a wheel from this installation, for a platform's image to install.

The wheel holds what ``pip install`` put in site-packages (or the source folder of an editable
install): the package, its templates and data, this installation's metadata and entry points. It
is built here rather than by a build backend so that an instructor who installed the course from a
wheel, with no source tree, can still make an autograder; and the same files give the same bytes.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import sys
import zipfile
from pathlib import Path

DISTRIBUTION = "backprop-course"
# What grading needs inside a container: the sandbox imports numpy, and notebooks that draw, matplotlib.
GRADING_NEEDS = ("numpy", "matplotlib")
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build time in the bytes


def _distribution() -> importlib.metadata.Distribution:
    return importlib.metadata.distribution(DISTRIBUTION)


def wheel_name() -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{_distribution().version}-py3-none-any.whl"


def requirements() -> list[str]:
    """This installation's requirements on the packages grading needs, as pip takes them (``numpy>=1.24``)."""
    wanted = []
    for requirement in _distribution().requires or []:
        name = re.match(r"[A-Za-z0-9_.-]*", requirement).group(0).lower()
        if name in GRADING_NEEDS and ";" not in requirement:  # not an extra's
            wanted.append(requirement.strip())
    return wanted


def pins() -> list[str]:
    """The versions of the packages grading needs that this Python has (``numpy==2.1.3``): what the
    course was run with here, for an image built on the same Python version."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in GRADING_NEEDS]


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _package_files() -> list[tuple[str, bytes]]:
    import backprop_lib

    source = Path(backprop_lib.__file__).resolve().parent
    files = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if (path.is_file() and path.suffix not in (".pyc", ".pyo")
                and not any(part.startswith(".") or part == "__pycache__" for part in relative.parts)):
            files.append((f"backprop_lib/{relative.as_posix()}", path.read_bytes()))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def add_file(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """Add ``data`` as ``name`` with a fixed time and Unix permissions ``mode``."""
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_wheel(folder: Path) -> Path:
    """Write the course's wheel into ``folder`` and return its path."""
    distribution = _distribution()
    info = f"{DISTRIBUTION.replace('-', '_')}-{distribution.version}.dist-info"
    files = _package_files()
    metadata = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO") or ""  # wheel, egg-info
    files.append((f"{info}/METADATA", metadata.encode()))
    entry_points = distribution.read_text("entry_points.txt")
    if entry_points:
        files.append((f"{info}/entry_points.txt", entry_points.encode()))
    wheel = "Wheel-Version: 1.0\nGenerator: backprop-course\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{info}/WHEEL", wheel.encode()))
    record = "".join(_record_line(name, data) + "\n" for name, data in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    path = folder / wheel_name()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files:
            add_file(archive, name, data)
    return path
