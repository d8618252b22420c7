"""``backprop-course autograder``: make the grader for a platform, and run it inside the platform."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

PLATFORMS = {"gradescope": "Gradescope", "prairielearn": "PrairieLearn"}


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text!r}")
    return value


def add_parser(commands: Any) -> None:
    """Add the ``autograder`` command to the ``backprop-course`` parser's subcommands."""
    parser = commands.add_parser(
        "autograder", help="make the autograder for Gradescope or PrairieLearn, and run it there",
        description="Make what Gradescope or PrairieLearn needs to grade the course's exercises in their "
                    "containers, with the grader of `backprop-course grade` (see docs/platforms.md).")
    which = parser.add_subparsers(dest="autograder", required=True, metavar="COMMAND")
    exercise = {"metavar": "NN", "help": "grade only this exercise (its number or notebook name) and refuse a "
                                         "notebook of another; by default, the exercise a notebook says it is"}
    from . import gradescope, prairielearn

    default = {"gradescope": gradescope.SECONDS, "prairielearn": prairielearn.SECONDS}
    for platform, name in PLATFORMS.items():
        seconds = {"type": _seconds, "default": default[platform], "metavar": "S",
                   "help": f"the grading budget of a submission (default {default[platform]:g}); keep it a little "
                           f"under the time {name} gives the grader"}
        if platform == "gradescope":
            make = which.add_parser(platform, help="write the autograder.zip to upload to a Gradescope assignment")
            make.add_argument("-o", "--output", required=True, metavar="ZIP", help="the zip to write")
        else:
            make = which.add_parser(platform, help="write the Dockerfile of PrairieLearn's external grader")
            make.add_argument("-o", "--output", required=True, metavar="DIR",
                              help="the folder to write the Dockerfile and the course's wheel into")
        make.add_argument("--exercise", **exercise)
        make.add_argument("--seconds", **seconds)
        make.set_defaults(run=_make, platform=platform)
        where = "/autograder" if platform == "gradescope" else "/grade"
        run = which.add_parser(f"{platform}-run", help=f"grade the submission in {where} (inside {name}'s container)")
        run.add_argument("--exercise", **exercise)
        run.add_argument("--seconds", **seconds)
        run.add_argument("--root", metavar="DIR", help=f"the platform's folder (default {where}), to try it elsewhere")
        run.set_defaults(run=_run, platform=platform)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _make(args: argparse.Namespace) -> int:
    from ..registry import find_exercise
    from . import gradescope, prairielearn

    try:
        chosen = find_exercise(args.exercise) if args.exercise else None
    except KeyError as exc:
        return _error(str(exc.args[0]))
    exercise = chosen.number if chosen is not None else None
    output = Path(args.output)
    try:
        if args.platform == "gradescope":
            written = gradescope.build_zip(output, exercise, args.seconds)
        else:
            written = prairielearn.write_image_recipe(output, exercise, args.seconds)
    except OSError as exc:
        return _error(f"cannot write {output}: {exc.strerror or exc}")
    print(f"wrote {output} ({', '.join(written)})")
    if chosen is not None:
        print(f"exercise {chosen.number} ({chosen.notebook}.ipynb) is worth "
              f"{sum(q.points for q in chosen.questions)} points")
    return 0


def _run(args: argparse.Namespace) -> int:
    from . import gradescope, prairielearn
    from .submission import Graded, clear_results, grade_submission, write_results

    platform = gradescope if args.platform == "gradescope" else prairielearn
    layout = platform.LAYOUT.under(args.root)
    try:
        clear_results(layout)
    except OSError:
        pass  # written over below, or said then
    graded = grade_submission(layout, args.exercise, args.seconds)
    try:
        results = platform.results(graded)
    except Exception as exc:  # a defect of the grader: the platform still gets a results.json that says so
        graded = Graded(graded.exercise, problem=f"{type(exc).__name__}: {exc}", grader_error=True,
                        seconds=graded.seconds)
        results = platform.results(graded)
    try:
        path = write_results(layout, results)
    except OSError as exc:
        return _error(f"cannot write the results to {layout.results_file}: {exc.strerror or exc}")
    print(graded.headline())
    if graded.result is not None and platform is gradescope:  # Gradescope shows this output to staff alone
        from ..commands import table

        print(table(graded.result.as_dict()))
    print(f"wrote {path}")
    return 0
