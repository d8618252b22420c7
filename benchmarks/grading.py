"""Grading benchmarks, side by side in one run: ``python benchmarks/grading.py``.

Every figure compares two commands timed in alternation (A, B, A, B, ...), so a busy machine slows
both alike; each side is the command an instructor types, interpreter start included.

1. A class batch: 24 solution notebooks graded into a fresh gradebook with ``--jobs 2``, against
   executing each of the 24 notebooks once in a Jupyter kernel with nbclient (kernel start
   included, as every kernel-based autograder pays it). Goal: at least 5x the throughput.
2. One submission graded from the command line, against executing it once with nbclient.
   Goal: never slower (ratio >= 1) for any exercise.
3. The same batch with ``--jobs 2`` against ``--jobs 1``. Goal: at least 1.5x.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backprop_lib.grading import EXERCISES  # noqa: E402
from backprop_lib.grading.sandbox import isolation_level  # noqa: E402

NBCLIENT = (
    "import sys, nbformat\n"
    "from nbclient import NotebookClient\n"
    "for path in sys.argv[1:]:\n"
    "    nb = nbformat.read(path, as_version=4)\n"
    "    NotebookClient(nb, kernel_name='python3', timeout=300, resources={'metadata': {'path': '.'}}).execute()\n"
)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def nbclient(paths: list[str]) -> list[str]:
    return [sys.executable, "-c", NBCLIENT, *paths]


def grade(paths: list[str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "backprop_lib", "grade", *paths, *extra]


def side_by_side(a: list[str] | callable, b: list[str] | callable, repeats: int) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` timed in alternation (a callable makes a fresh command each time)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, command in zip(times, (a, b)):
            side.append(timed(command() if callable(command) else command))
    return statistics.median(times[0]), statistics.median(times[1])


def make_class(folder: Path, students: int) -> list[str]:
    """``students`` folders with one solution notebook each, the exercises in turn."""
    exercises = list(EXERCISES.values())
    paths = []
    for i in range(students):
        exercise = exercises[i % len(exercises)]
        target = folder / f"student{i:03d}" / f"{exercise.notebook}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / f"{exercise.notebook}.ipynb", target)
        paths.append(str(target))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_class(Path(tmp), 24)
        books = iter(range(10**6))

        def batch(jobs: int):
            return lambda: grade(paths, "--gradebook", f"{tmp}/grades-{next(books)}.db", "--jobs", str(jobs))

        graded, executed = side_by_side(batch(2), nbclient(paths), repeats)
        rows.append(("class of 24: throughput of grade --jobs 2 over nbclient", executed / graded, ">= 5",
                     f"grade {graded:.1f} s, nbclient {executed:.1f} s"))
        one, two = side_by_side(batch(1), batch(2), repeats)
        rows.append(("class of 24: grade --jobs 2 over --jobs 1", one / two, ">= 1.5",
                     f"jobs 1 {one:.1f} s, jobs 2 {two:.1f} s"))
        for exercise in EXERCISES.values():
            path = str(ROOT / "solutions" / f"{exercise.notebook}.ipynb")
            graded, executed = side_by_side(grade([path], "--json"), nbclient([path]), repeats)
            rows.append((f"one {exercise.notebook}: grade over nbclient", executed / graded, ">= 1",
                         f"grade {graded * 1e3:.0f} ms, nbclient {executed * 1e3:.0f} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"isolation: {isolation_level()[0]}")
    print(f"{'benchmark':<{width}}  {'ratio':>6}  {'goal':>6}  detail")
    for name, ratio, goal, detail in rows:
        print(f"{name:<{width}}  {ratio:>6.2f}  {goal:>6}  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
