"""The ``backprop-course`` command (also ``python -m backprop_lib``)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _find_root(start: Path) -> Path:
    """The course folder: the nearest folder at or above ``start`` holding lessons/ or solutions/."""
    for folder in (start, *start.parents):
        if (folder / "lessons").is_dir() or (folder / "solutions").is_dir():
            return folder
    return start


def _build(args: argparse.Namespace) -> int:
    from .course.build import build

    root = Path(args.root).resolve() if args.root else _find_root(Path.cwd())
    result = build(root, check=args.check, jobs=args.jobs, only=args.only, refresh=args.refresh)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    if args.check:
        for path in result.stale:
            print(f"stale: {path.relative_to(root)}")
        if result.ok:
            count = len(result.unchanged)
            print(f"{count} file{'s' * (count != 1)} up to date")
        return 0 if result.ok else 1
    for path in result.written:
        print(f"wrote {path.relative_to(root)}")
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.errors)} failed")
    return 1 if result.errors else 0


def _grade(args: argparse.Namespace) -> int:
    from .grading.sandbox import NAMESPACES, isolation_level, launch_sandboxes

    # The sandboxes start first, so that their workers import numpy while the grader imports the questions.
    early = []
    if isolation_level()[0] == NAMESPACES or not args.require_isolation:
        batch = args.gradebook is not None
        count = min(max(1, args.jobs), len(args.submissions)) if batch else 1
        early = launch_sandboxes(count)
    from .grading.commands import grade_command

    return grade_command(args.submissions, args.json, args.gradebook, args.jobs, args.student, args.feedback,
                         args.seed, args.roster, args.require_isolation, early)


def _export(args: argparse.Namespace) -> int:
    from .grading.commands import export_command

    return export_command(args.gradebook, args.csv, args.canvas, args.moodle, args.roster)


def _report(args: argparse.Namespace) -> int:
    from .grading.commands import report_command

    return report_command(args.gradebook, args.output)


def _release(args: argparse.Namespace) -> int:
    from .course.release import ReleaseError, write_student_release

    root = Path(args.root).resolve() if args.root else _find_root(Path.cwd())
    try:
        written = write_student_release(root, args.directory, force=args.force)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the release in {args.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote the student release in {args.directory}: {', '.join(written)}")
    print("left out: solutions/ and the judging half of grading (references, mistake detectors, the grader)")
    return 0


def _lab(args: argparse.Namespace) -> int:
    from .course.lab import NoCourse, run_lab

    try:
        return run_lab(Path.cwd(), args.jupyterlab_args)
    except NoCourse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _without_the_iri_grammar() -> None:
    """Keep jsonschema from building a grammar this process never uses.

    nbformat (which build and release use to read notebooks) imports jsonschema, and jsonschema imports
    rfc3987_syntax whenever it is installed (JupyterLab's dependencies install it), to check the "iri"
    format; that import builds an Earley parser, about 0.9 s of CPU, half of ``build --check``. nbformat
    validates notebooks with fastjsonschema and its schema checks no format, so nothing here needs it.
    Only this command's own process is affected (``lab`` starts JupyterLab as a process of its own)."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # import rfc3987_syntax now raises ImportError


# The commands that need the judging half of grading, which a student release does not have.
INSTRUCTOR_COMMANDS = ("build", "grade", "export", "report", "release", "autograder")


def main(argv: list[str] | None = None) -> int:
    from .grading import student_release

    argv = sys.argv[1:] if argv is None else argv
    _without_the_iri_grammar()
    student = student_release()
    if student and argv and argv[0] in INSTRUCTOR_COMMANDS:
        print(f"error: this is a student release of the course: `backprop-course {argv[0]}` is for instructors, "
              "whose copy of the course holds the grader", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="backprop-course",
                                     description="Start, build and grade the backpropagation course.")
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser(
        "lab", help="start JupyterLab on the course, with the first lesson open",
        description="Start JupyterLab on the course folder with the first lesson open, without the news "
                    "question or the update check, and with --allow-root when run as root. Any other "
                    "argument goes to JupyterLab (e.g. --port 9000, --no-browser, exercises/).")
    lab.set_defaults(run=_lab)
    p = commands.add_parser("build", help="re-execute lessons and solutions and store their outputs")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if any notebook is stale")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks executed at once")
    p.add_argument("--only", nargs="+", metavar="PREFIX", help="only notebooks whose name starts so (e.g. 01)")
    p.add_argument("--refresh", action="store_true",
                   help="also re-record the outputs of unchanged # NBVAL_IGNORE_OUTPUT cells (timings)")
    p.add_argument("--root", help="the course folder (default: found from the current folder)")
    p.set_defaults(run=_build)
    g = commands.add_parser("grade", help="grade submitted exercise notebooks")
    g.add_argument("submissions", nargs="+", metavar="NOTEBOOK")
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument("--gradebook", metavar="DB", help="record the grades in this SQLite gradebook")
    g.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    g.add_argument("--student", help="the student's id (default: the folder holding the notebook)")
    g.add_argument("--feedback", metavar="DIR", help="write a readable feedback file per submission here")
    g.add_argument("--seed", type=int, help="draw the test inputs from this seed (default: a fresh one)")
    g.add_argument("--roster", metavar="CSV",
                   help="map submission folders to student ids (a header row with at least: folder,id)")
    g.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless student code can be isolated with namespaces (bubblewrap)")
    g.set_defaults(run=_grade)
    e = commands.add_parser("export", help="export a gradebook (CSV, or import files for Canvas and Moodle)")
    e.add_argument("gradebook", metavar="DB")
    e.add_argument("--csv", metavar="FILE", help="write one row per student and exercise, with every question")
    e.add_argument("--canvas", metavar="FILE", help="write Canvas's gradebook import file (needs --roster)")
    e.add_argument("--moodle", metavar="FILE", help="write a Moodle grade import file (needs --roster)")
    e.add_argument("--roster", metavar="CSV",
                   help="name students as the LMS does: a header row with folder,id and optionally "
                        "name,sis_user_id,sis_login_id,section,email")
    e.set_defaults(run=_export)
    if not student:
        from .grading.platforms.command import add_parser as add_autograder

        add_autograder(commands)
    r = commands.add_parser("report", help="write the class report of a gradebook (one HTML page)")
    r.add_argument("gradebook", metavar="DB")
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    r.set_defaults(run=_report)
    release = commands.add_parser("release", help="write a release of the course for students",
                                  description="Write what a graded class receives: the lessons, the exercises, "
                                              "the library and a README for students, without solutions/ and "
                                              "without the judging half of grading (see docs/release.md).")
    kinds = release.add_subparsers(dest="kind", required=True, metavar="KIND")
    student_parser = kinds.add_parser("student", help="lessons, exercises and the library, without the answers")
    student_parser.add_argument("directory", metavar="DIR", help="the folder to write (new or empty)")
    student_parser.add_argument("--force", action="store_true",
                                help="replace the release in a non-empty DIR (other files in it are kept)")
    student_parser.add_argument("--root", help="the course folder (default: found from the current folder)")
    student_parser.set_defaults(run=_release)
    args, unknown = parser.parse_known_args(argv)
    if args.command == "lab":
        args.jupyterlab_args = unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
