"""The lessons and solutions print the same text whichever kernels OpenBLAS runs.

OpenBLAS picks its kernels (SkylakeX, Haswell, Prescott, ...) from the processor when it starts, and
two kernel families may round the last bits of a sum differently. A cell whose printed figures hang
on those bits (a chaotic training run, a figure printed to more digits than it keeps) passes nbval
on the machine that built the notebook and fails on the next one. Here nbval re-runs every lesson
and solution in a subprocess with OpenBLAS forced (``OPENBLAS_CORETYPE``) to other kernel families
than this machine's default, and every stored output must still match. Each test reports one
notebook under one kernel family.

The suite tests one kernel family other than this machine's own: the first of CORETYPES that runs
here and that OpenBLAS does not pick by itself (Prescott, the SSE3 kernels, differs from every
AVX2 and AVX-512 family; on a processor whose own kernels are Prescott's, Haswell is taken). Set
BACKPROP_COURSE_BLAS_FAMILIES to a number to test that many families (2: both).

One run per kernel family, through the notebooks one at a time (about 25 s of one core). A whole-suite
run starts them with the session (tests/conftest.py), so that they use the cores the browser tests
and the waiting tests leave idle, and this module's tests come last and only read the verdicts; run
alone, the module starts them with its first test. A Jupyter kernel takes
TCP ports that were free a moment before; one that loses a port to a kernel starting at the same
moment in another process dies before it runs a cell, and its notebook is run once more.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from notebook_text import ROOT

# Prescott (SSE3) and Haswell (AVX2) kernels run on any x86-64 processor of the last ten years, and
# differ from each other and from the AVX-512 kernels (SkylakeX) that recent processors pick.
CORETYPES = ["Prescott", "Haswell"]
FAMILIES = max(1, int(os.environ.get("BACKPROP_COURSE_BLAS_FAMILIES", "1") or 1))  # how many to test
NOTEBOOKS = [path.relative_to(ROOT).as_posix() for folder in ("lessons", "solutions")
             for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))]
NBVAL = ["-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:nbval",  # conftest.py
         "-q", "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]
TIMEOUT = 900  # seconds for one run over all the notebooks; it takes about half a minute
ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*m")  # a colour code, raw or as the JUnit report escapes it
KERNEL_DIED = re.compile(r"Kernel died before replying to kernel_info|Kernel didn't respond in \d+ seconds")

# Runs in a subprocess: multiplies two matrices (so that kernels the processor cannot execute kill
# it here, not in the middle of a notebook), then prints the name of the kernel family OpenBLAS
# chose, or nothing when this OpenBLAS does not say.
PROBE = r"""
import ctypes, numpy as np
a = np.arange(64.0 * 64).reshape(64, 64) / 4096
assert abs((a @ a).sum() - a.sum(axis=0) @ a.sum(axis=1)) < 1e-6
name = ""
try:
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    for path in paths:
        lib = ctypes.CDLL(path)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                       "openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, symbol):
                get = getattr(lib, symbol)
                get.restype = ctypes.c_char_p
                name = get().decode()
                break
        if name:
            break
except (OSError, AttributeError, ValueError):
    pass
print(name)
"""

Verdicts = dict[str, list[tuple[str, str]]]  # notebook -> [(cell, its failure, "" if it passed)]


def _blas() -> str:
    """numpy's BLAS as its build configuration names it (lower case), e.g. "scipy-openblas ..."."""
    try:
        config = np.show_config(mode="dicts")  # numpy >= 1.26
    except TypeError:
        config = None
    if config:
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '')} {blas.get('openblas configuration', '')}".strip().lower()
    get_info = getattr(np.__config__, "get_info", lambda name: {})  # numpy < 1.26
    return " ".join(str(get_info(name).get("libraries", []))
                    for name in ("blas_opt_info", "blas_ilp64_opt_info", "openblas_info")).lower()


def _environment(coretype: str | None) -> dict[str, str]:
    """This process's environment with OpenBLAS forced to ``coretype`` (None: left to choose), and
    without pytest's own variables (the inner run must not take itself for an xdist worker, nor
    pick up extra options)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYTEST_") and key != "OPENBLAS_CORETYPE"}
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def _kernels(coretype: str | None) -> tuple[bool, str]:
    """Whether numpy runs with OpenBLAS forced to ``coretype`` (None: its own choice), and the name
    of the kernel family OpenBLAS then reports ("" when it does not say), or why it does not run."""
    probe = subprocess.run([sys.executable, "-c", PROBE], env=_environment(coretype), cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return False, (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
    return True, probe.stdout.strip()


def _start(coretype: str, paths: list[str], report: Path) -> subprocess.Popen:
    """nbval on ``paths`` with OpenBLAS forced to ``coretype``, under way: a JUnit report goes to
    ``report``, the output beside it (a file, not a pipe that nobody reads while another run is awaited)."""
    with open(report.with_suffix(".log"), "w") as log:
        return subprocess.Popen([sys.executable, *NBVAL, f"--junitxml={report}", *paths], env=_environment(coretype),
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _finish(run: subprocess.Popen, report: Path) -> tuple[Verdicts, str]:
    """Every cell that nbval ``run`` ran, by notebook, and its output, once it is done."""
    try:
        run.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait()
        return {}, f"nbval took over {TIMEOUT} s:\n{ANSI.sub('', report.with_suffix('.log').read_text())}"
    verdicts: Verdicts = {}
    if report.exists():
        for case in ET.parse(report).iter("testcase"):
            notebook = re.sub(r"^(lessons|solutions)\.", r"\1/", case.get("classname", ""))
            problems = [ANSI.sub("", child.text or child.get("message", "")) for child in case
                        if child.tag in ("failure", "error")]
            verdicts.setdefault(notebook, []).append((case.get("name", "?"), "\n".join(problems)))
    return verdicts, ANSI.sub("", report.with_suffix(".log").read_text())


def _differences(failure: str) -> str:
    """The lines of an nbval failure that name the cell and show what differs (the rest repeats the
    cell's source)."""
    lines = [line for line in failure.splitlines()
             if re.match(r"\s*[-+] |Cell \d+: |\s*mismatch |\S*Error\b", line)]
    return "\n".join(lines[:40]) or failure[-2000:]


EARLY = "BACKPROP_COURSE_PORTABILITY_RUNS"  # the folder of the runs started with the session (conftest.py)


def launch(coretypes: list[str], folder: Path, count: int = FAMILIES) -> dict[str, subprocess.Popen | str]:
    """Start nbval over lessons/ and solutions/ under the first ``count`` kernel families of
    ``coretypes`` that run here and are not the ones OpenBLAS picks by itself (a run, or why a family
    is not tested here)."""
    own_ok, own = _kernels(None)
    started: dict[str, subprocess.Popen | str] = {}
    for coretype in dict.fromkeys(coretypes):
        if sum(not isinstance(run, str) for run in started.values()) >= count:
            started[coretype] = f"{count} other kernel family tested already (BACKPROP_COURSE_BLAS_FAMILIES)"
            continue
        ok, name = _kernels(coretype)
        if not ok:
            started[coretype] = f"numpy does not run with OPENBLAS_CORETYPE={coretype} on this processor: {name}"
        elif own_ok and name and name == own:
            started[coretype] = (f"OpenBLAS runs its {name} kernels here already, or ignores OPENBLAS_CORETYPE: "
                                 f"the suite's own nbval run covers them")
        else:
            started[coretype] = _start(coretype, ["lessons", "solutions"], folder / f"{coretype}.xml")
    return started


def launch_with_the_session(folder: Path) -> list[subprocess.Popen]:
    """Called by conftest.py as the session starts: the runs of every family begin at once, beside the
    browser tests and everything else, and each leaves ``<family>.done`` (or ``.skip`` with the reason)
    in ``folder`` for the tests, which come last, to read."""
    if "openblas" not in _blas():
        return []
    runs = []
    for coretype, run in launch(CORETYPES, folder).items():
        if isinstance(run, str):
            (folder / f"{coretype}.skip").write_text(run)
            continue
        runs.append(run)

        def finish(run: subprocess.Popen = run, coretype: str = coretype) -> None:
            run.wait()
            (folder / f"{coretype}.done").write_text(str(run.returncode))

        threading.Thread(target=finish, daemon=True).start()
    return runs


class _Finished:
    """A run started elsewhere (by the session), seen through the file it leaves when it ends."""

    def __init__(self, done: Path):
        self.done = done

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (TIMEOUT if timeout is None else timeout)
        while not self.done.exists():
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("nbval", timeout)
            time.sleep(0.2)
        return int(self.done.read_text() or 0)

    def kill(self) -> None:
        pass

    def poll(self) -> int | None:
        return 0 if self.done.exists() else None


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> Iterator[Callable[[], dict[str, tuple[Verdicts, str]]]]:
    """nbval's verdicts on every cell of lessons/ and solutions/, and its output, for each kernel
    family tested. The runs started with the session are read where they are; otherwise they start
    with this module's first test. Skipped when no other family can be tested here."""
    blas = _blas()
    if "openblas" not in blas:
        pytest.skip(f"numpy's BLAS is not OpenBLAS ({blas or 'unknown'}): OPENBLAS_CORETYPE changes nothing")
    early = Path(os.environ[EARLY]) if os.environ.get(EARLY) else None
    runs: list[subprocess.Popen] = []
    started: dict[str, Any] = {}
    if early is not None and early.is_dir():
        folder = early
        for coretype in CORETYPES:
            skip = folder / f"{coretype}.skip"
            started[coretype] = skip.read_text() if skip.exists() else _Finished(folder / f"{coretype}.done")
    else:
        folder = tmp_path_factory.mktemp("portability")
        started = launch(CORETYPES, folder)
        runs = [run for run in started.values() if not isinstance(run, str)]
    done: dict[str, tuple[Verdicts, str]] = {}

    def finish(coretype: str) -> tuple[Verdicts, str]:
        cells, output = _finish(started[coretype], folder / f"{coretype}.xml")
        died = [notebook for notebook, verdict in cells.items()
                if any(KERNEL_DIED.search(failure) for _, failure in verdict)]
        if died:  # a port taken by another kernel at start-up, see the module's docstring
            again_report = tmp_path_factory.mktemp("again") / f"{coretype}-again.xml"
            runs.append(_start(coretype, died, again_report))
            again, output_again = _finish(runs[-1], again_report)
            cells.update(again)
            output += f"\n\nrun again: {' '.join(died)}\n{output_again}"
        return cells, output

    def of() -> dict[str, tuple[Verdicts, str]]:
        tested = [coretype for coretype, run in started.items() if not isinstance(run, str)]
        if not tested:
            pytest.skip("no other OpenBLAS kernel family can be tested here: "
                        + "; ".join(f"{c}: {why}" for c, why in started.items()))
        for coretype in tested:
            if coretype not in done:
                done[coretype] = finish(coretype)
        return done

    yield of
    for run in runs:
        if run.poll() is None:
            run.kill()
            run.wait()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_notebook_prints_the_same_under_another_openblas_kernel_family(verdicts, notebook):
    for coretype, (cells, output) in verdicts().items():
        if not cells.get(notebook):
            pytest.fail(f"nbval ran no cell of {notebook} with OPENBLAS_CORETYPE={coretype}:\n{output[-3000:]}",
                        pytrace=False)
        failed = [(cell, failure) for cell, failure in cells[notebook] if failure]
        if failed:
            pytest.fail(
                f"with OPENBLAS_CORETYPE={coretype}, {notebook} fails nbval. If it passes without OPENBLAS_CORETYPE, "
                f"its figures hang on the last bits of OpenBLAS's kernels: print what the lesson teaches (diverged "
                f"or not, an order of magnitude, 'below 0.1') or choose settings whose result is stable, then "
                f"rebuild (python -m backprop_lib build --only NN). Lines marked - are this run's, + the stored ones.\n"
                + "\n".join(_differences(failure) if f"{cell}:" in failure else f"{cell}:\n{_differences(failure)}"
                            for cell, failure in failed), pytrace=False)
