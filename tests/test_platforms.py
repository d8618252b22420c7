"""Gradescope and PrairieLearn: the autograder that ``backprop-course autograder`` makes, laid out as
each platform lays it out, installed by its own setup, and run on honest, wrong, hostile and broken
submissions; every results.json is held to the platform's documented schema.

Each run is a container of bubblewrap's making, run by root: the host's folders, a fresh /autograder
or /grade, and, where this Python lives under /root (which only root may enter), that Python made
reachable. The "docker" runs add the one filter of Docker's seccomp profile that matters here (no new
user namespace): the grader then falls back to process isolation, with a uid of its own for the
student's code, as in the platforms' containers. The "namespaces" runs keep bubblewrap's sandbox.
All the runs of the module go at once, a few at a time, in one module fixture.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backprop_lib.cli import main
from backprop_lib.grading.registry import find_exercise
from backprop_lib.grading.sandbox import PROCESS_UIDS
from backprop_lib.grading.worker import syscall_filter

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = find_exercise("01")
FULL = sum(q.points for q in EXERCISE.questions)
SOLUTION = ROOT / "solutions" / f"{EXERCISE.notebook}.ipynb"
STUB = ROOT / "exercises" / f"{EXERCISE.notebook}.ipynb"
OTHER = ROOT / "solutions" / f"{find_exercise('02').notebook}.ipynb"
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "simple_format", "html", "md", "ansi"}
DOCKER, NAMESPACES = "docker", "namespaces"

# A cell that tries to write the results and the grader's files, and to read what the platform keeps
# beside the submission; it reports one character per try ("-": refused) and what it runs as, after
# leaving a file in /tmp.
WRITER = '''import glob, os
site = (glob.glob("/autograder/venv/lib/python3*/site-packages") + ["/nowhere"])[0]
tries = [("/autograder/results/results.json", "w"), ("/autograder/results/planted", "w"), ("/autograder/planted", "w"),
         ("/autograder/run_autograder", "a"), ("/autograder/source/setup.sh", "r"), ("/autograder/submission_metadata.json", "r"),
         ("/grade/results/results.json", "w"), ("/grade/results/planted", "w"), ("/grade/planted", "w"),
         ("/grade/data/data.json", "r"), ("/grade/serverFilesCourse/secret.txt", "r"), ("/grade/tests/secret.txt", "r"),
         (site + "/sitecustomize.py", "w"), (site + "/backprop_lib/grading/judge.py", "r")]
report = ""
for path, mode in tries:
    try:
        open(path, mode).close()
        report += "w"
    except OSError:
        report += "-"
open("LEFT", "w").write("x" * 1000)  # in /tmp, where anyone may write: gone once graded
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
raise RuntimeError(f"uid={os.getuid()} groups={os.getgroups()} caps={int(status['CapEff'], 16)} tries={report}")
'''

# A cell that leaves a process behind (double fork, new session) that rewrites the results and a
# marker every 50 ms for two seconds, then kills its own worker to outlive the sandbox's tree.
DAEMON = '''import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(40):
            for path in ("/autograder/results/results.json", "/grade/results/results.json", "MARKER"):
                try:
                    with open(path, "w") as f:
                        f.write('{"score": 1000, "gradable": true}')
                except OSError:
                    pass
            time.sleep(0.05)
        os._exit(0)
    os._exit(0)
time.sleep(0.1)
if os.getppid() > 1:
    os.kill(os.getppid(), signal.SIGKILL)
'''


def notebook(path: Path, cell: str | None = None, bare: bool = False) -> bytes:
    """The notebook at ``path``, with ``cell`` appended; ``bare``: without the course's metadata."""
    nb = json.loads(path.read_text())
    if cell is not None:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                            "source": cell})
    if bare:
        nb["metadata"] = {}
    return json.dumps(nb).encode()


def container(mounts: list[tuple[str, Path]], argv: list[str], seccomp: int | None = None) -> list[str]:
    """``argv`` run by root in a container: the host's top folders, ``mounts`` (target, source) on
    them, /root empty but for this Python; ``seccomp``: a descriptor to read a filter from."""
    args = ["bwrap", "--die-with-parent"] + (["--seccomp", str(seccomp)] if seccomp is not None else [])
    for entry in sorted(os.listdir("/")):
        path = f"/{entry}"
        if entry == "root" or any(target == path for target, _ in mounts):
            continue
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--dev-bind", path, path]
    prefix = os.path.realpath(sys.base_prefix)
    if prefix.startswith("/root/"):
        for folder in reversed(Path(prefix).parents[:-1]):
            args += ["--perms", "0755", "--dir", str(folder)]
        args += ["--ro-bind", prefix, prefix]
    for target, source in mounts:
        args += ["--bind", str(source), target]
    return args + ["--chdir", "/", *argv]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_GRADER_ISOLATION"}
    return {**env, **extra}


def cli(*args: str) -> int:
    """``backprop-course ARGS`` in this process; its exit status (argparse's own errors included)."""
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code)


@dataclass
class Built:
    """The zip and the image recipe as made, and an /autograder set up by the zip's setup.sh."""

    zip: Path
    recipe: Path
    root: Path  # /autograder after setup.sh: source/ and venv/
    setup: subprocess.CompletedProcess
    seccomp: Path  # the filter that stands for Docker's profile: no new user namespace


@dataclass
class Scenario:
    platform: str
    mode: str
    files: dict[str, bytes]
    marker: Path | None = None  # where the submission leaves a file, or a process its marks


@dataclass
class Run:
    done: subprocess.CompletedProcess
    results: dict
    later: dict | None = None  # results.json read again a while after the grader ended
    marker_moved: bool = False  # the leftover's marker changed after the grader ended
    owner: int | None = None  # the uid the leftover process ran as (without namespaces)
    left_behind: bool = False  # a file the submission wrote in /tmp is still there after grading
    leftovers: list[int] = field(default_factory=list)  # processes of that uid still running


def bad_files() -> dict[str, dict[str, bytes]]:
    solution = SOLUTION.read_bytes()
    return {
        "nothing": {"README.txt": b"my notebook is attached\n"},
        "two": {SOLUTION.name: solution, f"copy of {SOLUTION.name}": solution},
        "another": {OTHER.name: OTHER.read_bytes()},
        "unparseable": {SOLUTION.name: b"{this is not json"},
        "empty": {SOLUTION.name: b""},
    }


def scenarios(markers: Path) -> dict[str, Scenario]:
    """Every run of the module; ``markers``: a folder every user may write, which the grader leaves alone."""
    found: dict[str, Scenario] = {}
    for platform in ("gradescope", "prairielearn"):
        found[f"{platform}-docker-correct"] = Scenario(platform, DOCKER, {SOLUTION.name: SOLUTION.read_bytes()})
        found[f"{platform}-docker-wrong"] = Scenario(platform, DOCKER, {STUB.name: STUB.read_bytes()})
        left = Path("/tmp") / f"backprop-left-{uuid.uuid4().hex}"
        writer = notebook(SOLUTION, WRITER.replace("LEFT", str(left)))
        found[f"{platform}-docker-writer"] = Scenario(platform, DOCKER, {SOLUTION.name: writer}, left)
        marker = markers / platform
        daemon = notebook(SOLUTION, DAEMON.replace("MARKER", str(marker)))
        found[f"{platform}-docker-leftover"] = Scenario(platform, DOCKER, {SOLUTION.name: daemon}, marker)
        for kind, files in bad_files().items():
            found[f"{platform}-docker-{kind}"] = Scenario(platform, DOCKER, files)
    found["gradescope-namespaces-leftover"] = Scenario("gradescope", NAMESPACES,
                                                       {SOLUTION.name: notebook(SOLUTION, DAEMON)})
    # Without the course's metadata, under another name: graded as the exercise the question names.
    found["prairielearn-namespaces-correct"] = Scenario("prairielearn", NAMESPACES,
                                                        {"homework.ipynb": notebook(SOLUTION, bare=True)})
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory, namespaces) -> Built:
    if os.geteuid() != 0:
        pytest.skip("the platforms run the grader as root; so do these tests")
    folder = tmp_path_factory.mktemp("built")
    zipped, recipe = folder / "autograder.zip", folder / "prairielearn"
    for platform, output in (("gradescope", zipped), ("prairielearn", recipe)):
        assert cli("autograder", platform, "--exercise", EXERCISE.number, "-o", str(output)) == 0
    # Docker's default seccomp profile refuses new user namespaces; so does the sandbox's job filter.
    seccomp = folder / "no-user-namespaces.bpf"
    seccomp.write_bytes(syscall_filter())
    root, setup = _set_up(zipped, folder / "autograder")
    return Built(zipped, recipe, root, setup, seccomp)


def _set_up(zipped: Path, root: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """/autograder as Gradescope builds it: the zip unpacked in source/, then setup.sh run as root."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(root / "source")
    for name in ("setup.sh", "run_autograder"):
        (root / "source" / name).chmod(0o755)  # as Gradescope unpacks it (extractall drops the mode)
    setup = subprocess.run(container([("/autograder", root)], ["bash", "/autograder/source/setup.sh"]),
                           capture_output=True, text=True, env=environment(BACKPROP_AUTOGRADER_PYTHON=sys.executable))
    assert setup.returncode == 0, setup.stderr
    return root, setup


def _lay_out(built: Built, scenario: Scenario, folder: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The platform's folder for one submission, its mounts and its command."""
    if scenario.platform == "gradescope":
        shutil.copy2(built.root / "source" / "run_autograder", folder / "run_autograder")
        submitted = folder / "submission"
        (folder / "submission_metadata.json").write_text('{"id": 1, "users": [{"email": "s@example.org"}]}')
        mounts = [("/autograder", folder), ("/autograder/source", built.root / "source"),
                  ("/autograder/venv", built.root / "venv")]
        argv = ["/autograder/run_autograder"]
    else:
        submitted = folder / "student"
        for name in ("data/data.json", "serverFilesCourse/secret.txt", "tests/secret.txt"):
            (folder / name).parent.mkdir(exist_ok=True)
            (folder / name).write_text("{}")
        mounts = [("/grade", folder), ("/autograder/venv", built.root / "venv")]  # the image's Python
        recipe = (built.recipe / "Dockerfile").read_text()
        argv = json.loads(recipe.split("\nCMD ", 1)[1].strip())
        argv[0] = "/autograder/venv/bin/backprop-course"  # the image's /usr/local/bin/backprop-course
    submitted.mkdir()
    for name, data in scenario.files.items():
        (submitted / name).write_bytes(data)
    return mounts, argv


def _processes_of(uid: int) -> list[int]:
    """Processes still running (not zombies) as ``uid``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{entry}/status").read_text().splitlines())
        except OSError:
            continue
        if uid in {int(u) for u in status["Uid"].split()} and status["State"].strip()[:1] not in "ZX":
            found.append(int(entry))
    return found


def _run(built: Built, scenario: Scenario, folder: Path) -> Run:
    folder.mkdir()
    mounts, argv = _lay_out(built, scenario, folder)
    with open(built.seccomp, "rb") as seccomp:
        fds = (seccomp.fileno(),) if scenario.mode == DOCKER else ()
        done = subprocess.run(container(mounts, argv, *fds), capture_output=True, text=True, env=environment(),
                              stdin=subprocess.DEVNULL, pass_fds=fds, timeout=120)
    results_file = folder / "results" / "results.json"
    run = Run(done, json.loads(results_file.read_text()) if results_file.exists() else {})
    if folder.name.endswith("-writer"):
        run.left_behind = scenario.marker.exists()
    if folder.name.endswith("-leftover"):
        seen = scenario.marker.stat() if scenario.marker is not None and scenario.marker.exists() else None
        if seen is not None:
            run.owner = seen.st_uid  # the uid the leftover ran as: the sandbox's own
            run.leftovers = _processes_of(seen.st_uid)
        time.sleep(0.6)  # twelve of the leftover's rewrites, had it lived
        run.later = json.loads(results_file.read_text())
        if seen is not None:
            run.marker_moved = scenario.marker.stat().st_mtime_ns != seen.st_mtime_ns
    return run


@pytest.fixture(scope="module")
def runs(built, tmp_path_factory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("runs")
    markers = Path(tempfile.mkdtemp(prefix="backprop-markers-"))
    markers.chmod(0o1777)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(_run, built, scenario, folder / name)
                       for name, scenario in scenarios(markers).items()}
            return {name: future.result() for name, future in futures.items()}
    finally:
        shutil.rmtree(markers)


# --- the schemas --------------------------------------------------------------------------------------------


def assert_gradescope_schema(data: dict) -> None:
    """Gradescope's autograder specification: the fields this grader writes, with their types."""
    assert set(data) == {"score", "execution_time", "output", "output_format", "test_output_format",
                         "test_name_format", "stdout_visibility", "extra_data", "tests"}
    assert isinstance(data["score"], float) and data["score"] >= 0
    assert isinstance(data["execution_time"], int) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"].strip()
    assert {data[k] for k in ("output_format", "test_output_format", "test_name_format")} <= FORMATS
    assert data["stdout_visibility"] in VISIBILITY and isinstance(data["extra_data"], dict)
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert all(isinstance(test[k], str) for k in ("name", "number", "output", "status", "visibility"))
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert (test["status"] == "passed") == (test["score"] == test["max_score"] > 0)
    if data["tests"]:
        assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def assert_prairielearn_schema(data: dict) -> None:
    """PrairieLearn's external grading results: the fields this grader writes, with their types."""
    assert isinstance(data["gradable"], bool)
    assert isinstance(data["score"], float) and 0 <= data["score"] <= 1
    assert isinstance(data["message"], str) and data["message"].strip() and isinstance(data["output"], str)
    assert isinstance(data["tests"], list)
    for test in data["tests"]:
        assert set(test) == {"name", "description", "points", "max_points", "message", "output"}
        assert all(isinstance(test[k], str) for k in ("name", "description", "message", "output"))
        assert isinstance(test["points"], float) and isinstance(test["max_points"], float)
        assert 0 <= test["points"] <= test["max_points"]
    if data["gradable"]:
        assert set(data) == {"gradable", "score", "message", "output", "tests", "instructor_notes"}
        total = sum(t["max_points"] for t in data["tests"])
        assert data["score"] == pytest.approx(sum(t["points"] for t in data["tests"]) / total, abs=1e-6)
    else:
        assert set(data) == {"gradable", "score", "message", "output", "format_errors", "tests"}
        assert data["score"] == 0 and data["tests"] == []
        assert data["format_errors"] and all(isinstance(e, str) and e for e in data["format_errors"])
    assert len(json.dumps(data)) < 1_000_000


def checked(run: Run, platform: str) -> dict:
    assert run.done.returncode == 0 and "Traceback" not in run.done.stderr + run.done.stdout, run.done.stderr
    (assert_gradescope_schema if platform == "gradescope" else assert_prairielearn_schema)(run.results)
    return run.results


def score(results: dict, platform: str) -> float:
    if platform == "gradescope":
        return results["score"]
    return results["score"] * FULL if results["gradable"] else -1.0


# --- what is built ------------------------------------------------------------------------------------------


def test_the_zip_holds_setup_sh_and_run_autograder_at_its_root_and_the_course_as_a_wheel(built):
    with zipfile.ZipFile(built.zip) as archive:
        entries = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    wheel = next(name for name in entries if name.endswith(".whl"))
    assert set(entries) == {"setup.sh", "run_autograder", wheel} and wheel.startswith("backprop_course-")
    assert entries["setup.sh"] & 0o777 == 0o755 and entries["run_autograder"] & 0o777 == 0o755
    # On Gradescope's fresh Ubuntu image, setup.sh installs Python, bubblewrap and the grader's needs itself.
    assert "apt-get install -y --no-install-recommends python3 python3-venv bubblewrap" in setup
    assert "'numpy>=" in setup and "'matplotlib>=" in setup and f"--no-deps --no-index \"$here/{wheel}\"" in setup
    assert run.startswith("#!/usr/bin/env bash\n") and run.rstrip().endswith(
        f"gradescope-run --exercise {EXERCISE.number} --seconds 540")
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0
    assert subprocess.run(["bash", "-n", "-c", run]).returncode == 0
    once, again = built.zip.with_name("once.zip"), built.zip.with_name("again.zip")
    for path in (once, again):
        assert cli("autograder", "gradescope", "--exercise", "01_computational_graphs", "-o", str(path)) == 0
    assert once.read_bytes() == again.read_bytes()  # the same course gives the same bytes


def test_setup_sh_installs_the_course_in_a_virtual_environment_that_runs_it(built):
    venv = built.root / "venv"
    site = next(venv.glob("lib/python3*/site-packages"))
    assert (site / "backprop_lib" / "grading" / "runner.py").is_file()
    assert (venv / "bin" / "backprop-course").is_file()
    assert "Successfully installed backprop-course" in built.setup.stdout


def test_the_prairielearn_recipe_installs_the_same_wheel_on_the_same_python_as_root(built):
    recipe = (built.recipe / "Dockerfile").read_text()
    wheels = list(built.recipe.glob("*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(built.zip) as archive:
        assert archive.read(wheels[0].name) == wheels[0].read_bytes()
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim\n" in recipe
    assert "bubblewrap" in recipe and "\nUSER " not in recipe
    import matplotlib
    import numpy

    assert f"numpy=={numpy.__version__} matplotlib=={matplotlib.__version__}" in recipe
    assert f"COPY {wheels[0].name} /tmp/{wheels[0].name}\n" in recipe
    assert json.loads(recipe.split("\nCMD ", 1)[1]) == [
        "/usr/local/bin/backprop-course", "autograder", "prairielearn-run", "--seconds", "25",
        "--exercise", EXERCISE.number]


# --- grading ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gradescope-docker-correct", "prairielearn-docker-correct",
                                  "prairielearn-namespaces-correct"])
def test_a_correct_notebook_earns_full_marks(runs, name):
    """The solution as it is, and (with namespaces) without the course's metadata under another name:
    graded as the exercise the question names. The leftover test below has Gradescope's namespaces."""
    platform, mode = name.split("-")[:2]
    results = checked(runs[name], platform)
    assert score(results, platform) == pytest.approx(FULL)
    assert f"isolation: {'process' if mode == DOCKER else 'namespaces'}" in results["output"]
    if platform == "gradescope":
        assert [t["number"] for t in results["tests"]] == [f"1.{i}" for i in range(1, len(EXERCISE.questions) + 1)]
        assert all(t["status"] == "passed" and "passed" in t["output"] for t in results["tests"])
        assert "note for the instructor" not in results["output"] and f"{FULL}/{FULL}" in runs[name].done.stdout
    else:
        assert [t["name"] for t in results["tests"]] == [q.id for q in EXERCISE.questions]
        assert [t["description"] for t in results["tests"]] == [q.title for q in EXERCISE.questions]


@pytest.mark.parametrize("platform", ["gradescope", "prairielearn"])
def test_a_generated_exercise_earns_nothing_and_each_question_says_why(runs, platform):
    results = checked(runs[f"{platform}-docker-wrong"], platform)
    assert score(results, platform) == 0
    messages = [t["output" if platform == "gradescope" else "message"] for t in results["tests"]]
    assert messages == ["not implemented yet"] * len(EXERCISE.questions)


@pytest.mark.parametrize("platform", ["gradescope", "prairielearn"])
def test_a_cell_cannot_write_the_results_or_the_graders_files_nor_read_the_platforms(runs, platform):
    """Attack: a top-level cell writes results.json, plants files beside it and in the platform's
    folder, appends to run_autograder, writes a sitecustomize.py into the grader's site-packages and
    reads the autograder's sources, the question's data and the trusted half of grading; then it
    leaves a file in /tmp (had it filled the disk, the results could not be written)."""
    results = checked(runs[f"{platform}-docker-writer"], platform)
    assert score(results, platform) == pytest.approx(FULL)
    note = next(line for line in results["output"].splitlines() if "RuntimeError" in line)
    fields = dict(part.split("=", 1) for part in note.split("RuntimeError: ", 1)[1].split(" "))
    assert int(fields["uid"]) in PROCESS_UIDS and fields["groups"] == "[]" and fields["caps"] == "0"
    assert fields["tries"] == "-" * 14, note
    assert not runs[f"{platform}-docker-writer"].left_behind  # what it wrote in /tmp went with its uid


@pytest.mark.parametrize("name", ["gradescope-docker-leftover", "prairielearn-docker-leftover",
                                  "gradescope-namespaces-leftover"])
def test_a_process_left_behind_is_gone_before_the_results_are_written(runs, name):
    """Attack: a cell leaves a process in a session of its own that rewrites results.json every 50 ms,
    then kills its worker so that the process outlives the sandbox's tree. Without namespaces only its
    uid still names it: every process of that uid must be dead before results.json is written."""
    platform = name.split("-")[0]
    run = runs[name]
    results = checked(run, platform)
    assert score(results, platform) == pytest.approx(FULL)
    assert run.later == results and run.leftovers == [] and not run.marker_moved
    if "docker" in name:
        assert "cell" in results["output"] and "ended the process" in results["output"]
        assert run.owner in PROCESS_UIDS


BAD = {
    "nothing": "no notebook (.ipynb file) was submitted; submit 01_computational_graphs.ipynb",
    "two": "2 notebooks were submitted (01_computational_graphs.ipynb, copy of 01_computational_graphs.ipynb); "
           "submit only 01_computational_graphs.ipynb",
    "another": "02_paths_and_modes.ipynb is exercise 02 (02_paths_and_modes.ipynb); this assignment grades "
               "exercise 01 (01_computational_graphs.ipynb)",
    "unparseable": "01_computational_graphs.ipynb:",
    "empty": "01_computational_graphs.ipynb:",
}


@pytest.mark.parametrize("platform", ["gradescope", "prairielearn"])
@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_submission_scores_zero_with_one_clear_line(runs, platform, kind):
    run = runs[f"{platform}-docker-{kind}"]
    results = checked(run, platform)
    if platform == "gradescope":
        line = results["output"]
        assert results["score"] == 0 and len(results["tests"]) == len(EXERCISE.questions)
        assert all(t["score"] == 0 and t["status"] == "failed" and t["output"].startswith("not graded: ")
                   for t in results["tests"])
    else:
        line = results["format_errors"][0]
        assert not results["gradable"] and results["message"].startswith("Not graded: ")
    assert "\n" not in line and BAD[kind] in line, line
    assert "Traceback" not in line and "/autograder" not in line and "/grade" not in line


def test_the_commands_refuse_bad_options_in_one_line(tmp_path, capsys):
    for args in (["gradescope", "--exercise", "09", "-o", str(tmp_path / "a.zip")],
                 ["gradescope", "-o", str(tmp_path / "missing" / "a.zip")],
                 ["prairielearn", "--exercise", "nope", "-o", str(tmp_path / "pl")]):
        assert cli("autograder", *args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: "), err
    assert cli("autograder", "gradescope", "--seconds", "-3", "-o", str(tmp_path / "a.zip")) == 2
    err = capsys.readouterr().err
    assert "not a number of seconds above 0" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())
