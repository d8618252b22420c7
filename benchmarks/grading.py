"""Grading benchmarks, side by side in one run: ``python benchmarks/grading.py``.

1. Grading a solution notebook (the grader forks a confined child from a warm process) against
   merely executing the same notebook through a Jupyter kernel with nbclient (kernel start
   included, as every kernel-based autograder pays it). Goal: at least 3x faster.
2. A batch of submissions into a gradebook with ``--jobs 2`` against ``--jobs 1``, each run as the
   command an instructor types (fresh gradebook each time). Goal: at least 1.6x faster.
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
from backprop_lib.grading.runner import grade_notebook  # noqa: E402


def execute_with_nbclient(path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(path.parent)}}).execute()


def bench_single(repeats: int) -> list[tuple]:
    rows = []
    for exercise in EXERCISES.values():
        path = ROOT / "solutions" / f"{exercise.notebook}.ipynb"
        grade_notebook(path, seed=0)  # warm: the grader is a long-lived process
        graded, executed = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            result = grade_notebook(path)
            graded.append(time.perf_counter() - start)
            assert result.score == result.max_score
            start = time.perf_counter()
            execute_with_nbclient(path)
            executed.append(time.perf_counter() - start)
        g, e = statistics.median(graded), statistics.median(executed)
        rows.append((f"grade {exercise.notebook} vs execute it with nbclient", e / g, ">= 3",
                     f"grade {g * 1e3:.0f} ms, nbclient {e * 1e3:.0f} ms"))
    return rows


def bench_batch(students: int) -> list[tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(students):
            for exercise in EXERCISES.values():
                folder = Path(tmp) / f"student{i:03d}"
                folder.mkdir(exist_ok=True)
                target = folder / f"{exercise.notebook}.ipynb"
                shutil.copy(ROOT / "solutions" / f"{exercise.notebook}.ipynb", target)
                paths.append(str(target))
        times = {}
        for jobs in (1, 2, 1, 2):
            db = Path(tmp) / f"grades-{jobs}-{time.monotonic_ns()}.db"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "backprop_lib", "grade", *paths, "--gradebook", str(db),
                            "--jobs", str(jobs)], check=True, capture_output=True)
            times.setdefault(jobs, []).append(time.perf_counter() - start)
        one, two = min(times[1]), min(times[2])
    return [(f"batch of {len(paths)} submissions: --jobs 2 speed-up over --jobs 1", one / two, ">= 1.6",
             f"jobs 1 {one:.1f} s, jobs 2 {two:.1f} s")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    rows = bench_single(2 if args.quick else 5) + bench_batch(2 if args.quick else 12)
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'ratio':>6}  {'goal':>6}  detail")
    for name, ratio, goal, detail in rows:
        print(f"{name:<{width}}  {ratio:>6.2f}  {goal:>6}  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
