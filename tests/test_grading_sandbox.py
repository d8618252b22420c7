"""The judge and the sandbox: what crosses between them, and what the sandbox can reach."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backprop_lib.grading.commands import RosterError, load_roster
from backprop_lib.grading.flags import notebook_flags
from backprop_lib.grading.plain import to_plain
from backprop_lib.grading.protocol import Expectation, ProtocolError, clean_text, plain_value
from backprop_lib.grading.runner import GradingError, Limits, grade_notebook, read_submission
from backprop_lib.grading.sandbox import Sandbox, sandbox_library
from test_grading_hostile import submission

ROOT = Path(__file__).resolve().parent.parent
FAST = Limits(cell_seconds=1.0, question_seconds=1.0, grace_seconds=1.0)


def placed(tmp_path: Path, folder: str, *cells: str, **answers: str) -> Path:
    """An exercise-01 submission (see ``submission``) in ``tmp_path / folder``."""
    base = tmp_path / f".{folder}"
    base.mkdir(parents=True)
    path = submission(base, *cells, **answers)
    target = tmp_path / folder
    path.parent.rename(target)
    return target / path.name


def message(**fields) -> bytes:
    return json.dumps(fields).encode()


def expectation() -> Expectation:
    return Expectation(cells=3, skip={1}, questions=["01.a", "01.b"], cases={"01.a": 2, "01.b": 1})


# --- the schema -----------------------------------------------------------------------------------------


def test_the_expected_steps_in_order_are_accepted_and_cleaned():
    e = expectation()
    assert e.accept(message(cell=0)) == {"cell": 0}
    assert e.accept(message(cell_error=0, error="cell 1: \x1b[2JBoom\ud800")) == \
        {"cell_error": 0, "error": "cell 1: [2JBoom\ufffd"}
    e.accept(message(cell=2))
    e.accept(message(question="01.a"))
    report = e.accept(message(report="01.a", data={"outcomes": [{"value": 1.5}, {"error": ["KeyError", "x"]}]}))
    assert report["data"]["outcomes"][1] == {"error": ["KeyError", "x"]}
    e.accept(message(question="01.b"))
    e.accept(message(report="01.b", data={"missing": ["f"]}))
    assert e.accept(message(finished=True)) == {"finished": True}


@pytest.mark.parametrize("steps", [
    [message(cell=1)],  # a skipped cell
    [message(cell=0), message(cell=0)],  # the same cell again: a child cannot stretch its time
    [message(cell=2), message(cell=0)],
    [message(cell=3)],
    [message(cell=True)],
    [message(question="01.b")],  # out of order
    [message(question="02.count_paths")],  # not this exercise's
    [message(question="01.a"), message(question="01.a")],
    [message(report="01.a", data={"outcomes": []})],  # no question under way
    [message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}]})],  # too few
    [message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}, {"value": 1, "error": 1}]})],
    [message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}, {"error": "text"}]})],
    [message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}, {"sneaky": 1}]})],
    [message(finished=True)],  # before the questions
    [message(cell=0, extra=1)],
    [b"not json"],
    [b"[" * 100_000],
    [message(cell=0), message(cell_error=2, error="x")],
    # the announcement of each case: only inside a question, in order, never beyond its cases
    [message(case=0)],
    [message(question="01.a"), message(case=1)],
    [message(question="01.a"), message(case=0), message(case=0)],
    [message(question="01.b"), message(case=0), message(case=1)],
    [message(question="01.a"), message(case=True)],
    [message(question="01.a"), message(case=0, extra=1)],
    # where an error happened: [file name, line, function], nothing else
    *[[message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}, {"error": ["E", "m"], "at": at}]})]
      for at in (["<cell 1>", 0, "f"], ["<cell 1>", True, "f"], ["<cell 1>", 10**8, "f"], ["<cell 1>", 1],
                 [1, 1, "f"], ["<cell 1>", 1, ["f"]], "<cell 1>:1")],
    [message(question="01.a"), message(report="01.a", data={"outcomes": [{"value": 1}, {"value": 1, "at": ["a", 1, "f"]}]})],
])
def test_anything_out_of_place_or_malformed_is_a_protocol_error(steps):
    e = expectation()
    with pytest.raises(ProtocolError):
        for step in steps:
            e.accept(step)


def test_cases_announced_in_order_and_an_error_with_its_place_are_accepted_and_cleaned():
    e = expectation()
    e.accept(message(question="01.a"))
    assert [e.accept(message(case=i)) for i in range(2)] == [{"case": 0}, {"case": 1}]
    report = e.accept(message(report="01.a", data={"outcomes": [
        {"value": 1.0}, {"error": ["ValueError", "bad"], "at": ["<cell 3>\x1b[2J", 7, "f\u202e"]}]}))
    assert report["data"]["outcomes"][1] == {"error": ["ValueError", "bad"], "at": ["<cell 3>[2J", 7, "f"]}


def test_nothing_is_accepted_after_the_end():
    e = Expectation(cells=0, skip=(), questions=[], cases={})
    e.accept(message(finished=True))
    with pytest.raises(ProtocolError):
        e.accept(message(finished=True))


def test_plain_values_rebuild_arrays_and_refuse_what_is_not_data():
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert np.array_equal(plain_value(to_plain(array)), array)
    assert plain_value({"k\x1b": ["a\u202eb", None, True, 2]}) == {"k": ["ab", None, True, 2]}
    encoded = to_plain(array)
    for broken in ({**encoded, "shape": [4, 4]}, {**encoded, "dtype": "|O"}, {**encoded, "extra": 1},
                   {**encoded, "shape": [-1]}, {**encoded, "__ndarray__": "!!"},
                   {"__ndarray__": base64.b64encode(b"x" * 8).decode(), "dtype": "<f8", "shape": [10**9]}):
        with pytest.raises(ProtocolError):
            plain_value(broken)
    nested: list = []
    for _ in range(50):
        nested = [nested]
    with pytest.raises(ProtocolError):
        plain_value(nested)
    with pytest.raises(ProtocolError):
        plain_value(list(range(300_000)))


def test_clean_text_keeps_printable_text_and_drops_what_redraws_a_terminal():
    assert clean_text("∂e/∂a = 5.0 (ok)", 100) == "∂e/∂a = 5.0 (ok)"
    assert clean_text("a\x1b]0;title\x07b\rc\nd\u2066e", 100) == "a]0;titleb c de"
    assert clean_text("x" * 50, 10) == "x" * 10 + "..."
    assert clean_text("\ud800", 5).encode("utf-8")


# --- flags for the instructor ------------------------------------------------------------------------------


def test_flags_name_the_reach_and_the_cell_but_not_the_notebooks_own_check_import():
    assert notebook_flags(["from backprop_lib.grading import check", "def f(): return 1"]) == []
    flags = notebook_flags(["import sys\nframe = sys._getframe(1)", "import gc", "import ctypes",
                            "open('/proc/1/environ')", "import backprop_lib.grading.spec"])
    assert [f.split(" reaches for ")[0] for f in flags] == [f"code cell {i}" for i in range(1, 6)]
    assert "interpreter frames" in flags[0] and "the grading package" in flags[4]


# --- inputs ------------------------------------------------------------------------------------------------


def test_only_regular_notebooks_of_a_sane_size_and_depth_are_read(tmp_path):
    good = submission(tmp_path)
    nb, data = read_submission(good)
    assert nb["cells"] and data == good.read_bytes()
    link = tmp_path / "link.ipynb"
    link.symlink_to(good)
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.ipynb"
    zero.symlink_to("/dev/zero")
    deep = tmp_path / "deep.ipynb"
    deep.write_text('{"cells": ' + "[" * 200_000 + "]" * 200_000 + "}")
    big = tmp_path / "big.ipynb"
    big.write_bytes(b" " * (17 * 1024**2))
    expected = {link: "symbolic link", fifo: "FIFO", zero: "symbolic link", deep: "nested too deeply",
                big: "at most", tmp_path: "directory", tmp_path / "none.ipynb": "no such file"}
    for path, words in expected.items():
        with pytest.raises(GradingError, match=words):
            read_submission(path)


def test_a_roster_maps_folders_to_ids_and_says_what_is_wrong(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,folder,id,email\nAda,ada-l,s001,a@x\nBob,bob,s002,b@x\n")
    assert load_roster(str(roster)) == {"ada-l": "s001", "bob": "s002"}
    for text, words in (("folder,student\nada,s1\n", "missing: id"), ("folder,id\n", "one row per student"),
                        ("folder,id\nada,s1\nada,s2\n", "listed twice"), ("folder,id\n,s1\n", "empty")):
        roster.write_text(text)
        with pytest.raises(RosterError, match=words):
            load_roster(str(roster))
    with pytest.raises(RosterError, match="no such roster"):
        load_roster(str(tmp_path / "none.csv"))


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_lib", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})


def test_a_batch_with_a_roster_grades_the_listed_folders_and_reports_the_rest(tmp_path):
    ada, bob = (placed(tmp_path, name) for name in ("ada", "bob"))
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,id\nada,s001\n")
    db = tmp_path / "grades.db"
    done = cli("grade", str(ada), str(bob), "--gradebook", str(db), "--roster", str(roster), "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == {"graded": 1, "skipped": 0, "errors": 1}
    assert "'bob' is not in the roster" in done.stderr and "Traceback" not in done.stderr
    table = cli("export", str(db), "--csv", str(tmp_path / "grades.csv"))
    assert table.returncode == 0
    assert (tmp_path / "grades.csv").read_text().splitlines()[1].startswith("s001,01,8,8")


def test_two_notebooks_of_one_student_for_one_exercise_are_both_refused(tmp_path):
    first = submission(tmp_path)
    second = first.with_name("01_again.ipynb")
    second.write_bytes(first.read_bytes())
    other = placed(tmp_path, "other")
    done = cli("grade", str(first), str(second), str(other), "--gradebook", str(tmp_path / "g.db"), "--json")
    assert json.loads(done.stdout) == {"graded": 1, "skipped": 0, "errors": 2}
    assert done.stderr.count("2 submissions of exercise 01 for student student") == 2


# --- the sandbox -------------------------------------------------------------------------------------------


def test_the_sandboxs_library_has_no_trusted_half():
    library = sandbox_library() / "backprop_lib"
    grading = sorted(p.name for p in (library / "grading").iterdir() if p.suffix == ".py")
    assert grading == ["__init__.py", "plain.py", "probe.py", "worker.py"]
    assert sorted(p.name for p in (library / "grading" / "probes").glob("*.py"))[:2] == ["__init__.py", "ex01.py"]
    assert not (library / "course").exists()
    assert (library / "tensor.py").read_bytes() == (ROOT / "backprop_lib" / "tensor.py").read_bytes()


SPY = """
import importlib, os, sys
def product_rule(f, df, g, dg, x):
    found = []
    for name in ("backprop_lib.grading.ex01", "backprop_lib.grading.spec", "backprop_lib.grading.judge",
                 "backprop_lib.grading.registry", "backprop_lib.grading.runner"):
        try:
            importlib.import_module(name)
            found.append(name)
        except ImportError:
            pass
    visible = [p for p in (%(paths)s) if os.path.exists(p)]
    assert not found and not visible and sys.argv == ["-c"], (found, visible, sys.argv)
    assert "GRADER_SECRET" not in os.environ and os.getuid() != 0
    return df(x) * g(x) + f(x) * dg(x)
"""


def test_in_the_sandbox_the_trusted_half_the_project_and_the_grader_are_out_of_reach(tmp_path, monkeypatch,
                                                                                    namespaces):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    paths = [str(ROOT / "solutions"), str(ROOT / "backprop_lib" / "grading" / "ex01.py"), str(tmp_path),
             str(secret), "/etc/shadow", "/etc/hostname", os.path.expanduser("~/.bashrc"), "/work"]
    spy = SPY % {"paths": ", ".join(repr(p) for p in paths)}
    result = grade_notebook(submission(tmp_path, product_rule=spy), seed=1, limits=FAST)
    assert result.score == 8, [q.feedback for q in result.questions]
    assert result.isolation == "namespaces"


def test_a_question_that_breaks_the_protocol_costs_that_question(tmp_path):
    forger = ("import os, json, struct, sys\n"
              "def product_rule(f, df, g, dg, x):\n"
              "    frame = sys._getframe()\n"
              "    while frame and 'out' not in frame.f_locals:\n"
              "        frame = frame.f_back\n"
              "    data = json.dumps({'finished': True}).encode()\n"
              "    os.write(frame.f_locals['out'], struct.pack('>I', len(data)) + data)\n"
              "    return 0.0\n")
    result = grade_notebook(submission(tmp_path, product_rule=forger), seed=1, limits=FAST)
    statuses = {q.id: q.status for q in result.questions}
    assert statuses["01.product_rule"] == "crashed" and result.score == 6
    assert any("malformed message" in f for f in result.flags) and any("frames" in f for f in result.flags)


def test_process_isolation_says_so_and_require_isolation_refuses(tmp_path):
    path = submission(tmp_path)
    done = cli("grade", str(path), "--json", BACKPROP_GRADER_ISOLATION="process")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["isolation"] == "process" and json.loads(done.stdout)["score"] == 8
    assert done.stderr.count("\n") == 1 and "process isolation only" in done.stderr
    refused = cli("grade", str(path), "--gradebook", str(tmp_path / "g.db"), "--require-isolation",
                  BACKPROP_GRADER_ISOLATION="process")
    assert refused.returncode == 2 and "--require-isolation" in refused.stderr and not (tmp_path / "g.db").exists()


FONTS_FOUND = """
import importlib, logging, os
def product_rule(f, df, g, dg, x):
    assert any(n.startswith("fontlist-v") for n in os.listdir(os.environ["MPLCONFIGDIR"])), "no font list"
    said = []
    class Said(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())
    log = logging.getLogger(%(name)s)
    log.addHandler(Said())
    log.setLevel(logging.INFO)
    importlib.import_module(%(name)s)
    assert not any("generated new fontManager" in m for m in said), said
    return df(x) * g(x) + f(x) * dg(x)
"""


@pytest.mark.parametrize("named", [True, False], ids=["worker imports it", "the job imports it"])
def test_matplotlib_in_the_sandbox_starts_from_the_graders_font_list(tmp_path, monkeypatch, namespaces, named):
    """Without the list, matplotlib in every worker and job would search the system's fonts again:
    a tenth of a second each, and two runs of fc-list. The job's matplotlib folder starts with the
    list, and matplotlib does not search, whether its worker imported it first (a notebook that names
    it, see the next test) or the job imports it under a name made at run time."""
    import matplotlib.font_manager  # noqa: F401  (the grader's own list exists once matplotlib has run)

    from backprop_lib.grading import sandbox as sandbox_module
    monkeypatch.setattr(sandbox_module, "_library", None)  # a library folder made after the list exists
    assert any(p.name.startswith("fontlist-v") for p in (sandbox_library() / ".matplotlib-fonts").iterdir())
    # unnamed, the module's name is put together at run time, so that no word of the notebook plots
    answer = FONTS_FOUND % {"name": '"matplotlib.font_manager"' if named else '"mat" + "plotlib.font_manager"'}
    with Sandbox() as sandbox:
        result = grade_notebook(submission(tmp_path, product_rule=answer), seed=1, limits=FAST, sandbox=sandbox)
    assert result.score == 8, [q.feedback for q in result.questions]


NOT_LOADED = """
import sys
def product_rule(f, df, g, dg, x):
    assert not any(name.startswith("mat" + "plotlib") for name in sys.modules), "loaded"
    return df(x) * g(x) + f(x) * dg(x)
"""


def test_only_a_notebook_that_plots_has_its_worker_import_matplotlib_first(tmp_path, namespaces):
    """Importing matplotlib costs a worker a third of a second of processor: a batch of notebooks that
    never plot never pays it. A notebook that names it is graded by a worker that imported it as it
    started, before the notebook's time: the worker that graded the plain notebook is replaced (it is
    never made to import matplotlib after running a job, whose files could be where matplotlib looks),
    once."""
    plotting = "import sys\nassert 'matplotlib.pyplot' in sys.modules, 'not yet'\nimport matplotlib.pyplot as plt"
    with Sandbox() as sandbox:
        plain = grade_notebook(placed(tmp_path, "plain", product_rule=NOT_LOADED), seed=1, limits=FAST,
                               sandbox=sandbox)
        first = sandbox.process.pid
        plots = grade_notebook(placed(tmp_path, "plots", plotting), seed=1, limits=FAST, sandbox=sandbox)
        warm = sandbox.process.pid
        again = grade_notebook(placed(tmp_path, "again", plotting), seed=1, limits=FAST, sandbox=sandbox)
        assert sandbox.process.pid == warm != first
    assert plain.score == 8, [q.feedback for q in plain.questions]
    assert plots.score == again.score == 8 and plots.cell_errors == again.cell_errors == []


def test_a_notebook_graded_on_its_own_starts_one_worker_that_suits_it(tmp_path, namespaces, monkeypatch):
    """Without a batch's sandbox, the worker is started as the notebook needs it: with matplotlib
    imported if it plots, without it otherwise. None is started and then replaced."""
    started = []
    launch = Sandbox.launch

    def counted(self):
        started.append(self.warm)
        launch(self)

    monkeypatch.setattr(Sandbox, "launch", counted)
    plotting = "import sys\nassert 'matplotlib.pyplot' in sys.modules, 'not yet'\nimport matplotlib.pyplot as plt"
    plots = grade_notebook(placed(tmp_path, "plots", plotting), seed=1, limits=FAST)
    plain = grade_notebook(placed(tmp_path, "plain", product_rule=NOT_LOADED), seed=1, limits=FAST)
    assert started == [True, False]
    assert plots.score == plain.score == 8 and plots.cell_errors == plain.cell_errors == []


# Writes 1 MiB blocks to /tmp until a write fails (at most 256 MiB), then tries the environment's folder.
UNDER_TMP = r'''
import os, sys
written, block = 0, b"x" * (1 << 20)
try:
    for i in range(16):
        with open(f"/tmp/fill{i}", "wb") as f:
            for _ in range(16):
                written += f.write(block)
except OSError:
    pass
try:
    open(os.path.join(ENVIRONMENT, "planted"), "w").close()
    planted = "yes"
except OSError as exc:
    planted = type(exc).__name__
raise RuntimeError(f"wrote {written >> 20} MiB; environment seen {os.path.isdir(ENVIRONMENT)}; planted {planted}")
'''


def test_a_python_under_tmp_leaves_the_job_its_own_capped_tmp(tmp_path, namespaces):
    """A Python environment under /tmp (a virtual environment made there) is bound over the
    sandbox's /tmp. A job still gets a /tmp of its own with the usual cap (128 MiB), where it can write
    as anywhere else, and sees the environment's folder, read-only. (Before, such a job wrote into
    the worker's larger /tmp instead: 256 MiB.)"""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    path = placed(tmp_path, "student", f"ENVIRONMENT = {str(venv)!r}\n" + UNDER_TMP)
    run = subprocess.run([str(venv / "bin" / "python"), "-m", "backprop_lib", "grade", str(path), "--json",
                          "--seed", "1"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    (error,) = result["cell_errors"]
    assert "environment seen True; planted OSError" in error, error
    wrote = int(error.split("wrote ")[1].split(" MiB")[0])
    assert 100 <= wrote <= 128, error
    assert result["score"] == 8


def test_the_font_list_given_to_the_sandbox_names_only_fonts_it_can_read(tmp_path, monkeypatch):
    from backprop_lib.grading.sandbox import _copy_font_list

    fonts = {"_version": "1", "ttflist": [{"fname": "fonts/ttf/DejaVuSans.ttf"},
                                         {"fname": "/usr/share/fonts/truetype/x.ttf"},
                                         {"fname": "/home/teacher/.fonts/Private.ttf"}, "not a font"],
             "afmlist": [{"fname": "/opt/fonts/y.afm"}, {"fname": "fonts/afm/pagd8a.afm"}]}
    (tmp_path / "mpl").mkdir()
    (tmp_path / "mpl" / "fontlist-v1.json").write_text(json.dumps(fonts))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    _copy_font_list(tmp_path / "given")
    given = json.loads((tmp_path / "given" / "fontlist-v1.json").read_text())
    assert [f["fname"] for f in given["ttflist"]] == ["fonts/ttf/DejaVuSans.ttf", "/usr/share/fonts/truetype/x.ttf"]
    assert [f["fname"] for f in given["afmlist"]] == ["fonts/afm/pagd8a.afm"]
    (tmp_path / "mpl" / "fontlist-v1.json").write_text("{not json")
    _copy_font_list(tmp_path / "unreadable")
    assert not (tmp_path / "unreadable").exists()


def test_a_worker_that_dies_is_replaced_and_the_next_submission_is_graded(tmp_path, namespaces):
    killer = "import os, signal\nfor pid in range(1, 50):\n    try:\n        os.kill(pid, 9)\n    except OSError:\n        pass"
    with Sandbox() as sandbox:
        attacked = grade_notebook(submission(tmp_path, killer), seed=1, limits=FAST, sandbox=sandbox)
        honest = grade_notebook(placed(tmp_path, "next"), seed=1, limits=FAST, sandbox=sandbox)
    assert attacked.score == 8  # it could kill nothing but its own namespace
    assert honest.score == 8


def test_the_sandbox_caps_processes_for_the_submission_as_a_whole(tmp_path, namespaces):
    bomb = ("import os, time\ncount = 0\nfor _ in range(2000):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(60)\n            os._exit(0)\n        count += 1\n    except OSError:\n        break\n"
            "raise RuntimeError(f'forked {count}')")
    with Sandbox() as sandbox:
        result = grade_notebook(submission(tmp_path, bomb), seed=1, limits=FAST, sandbox=sandbox)
        if not sandbox.capped:
            pytest.skip("no control group can be made here; the per-process limits apply")
    assert result.score == 8
    forked = int(result.cell_errors[0].rsplit(" ", 1)[1])
    assert forked < 100


def test_files_one_submission_writes_are_gone_for_the_next(tmp_path, namespaces):
    writer = ("import os\nfor place in ('.', '/tmp', os.environ['HOME'], '/dev/shm'):\n    try:\n"
              "        open(os.path.join(place, 'left_behind.txt'), 'w').write('x')\n    except OSError:\n        pass")
    reader = ("import os\ndef product_rule(f, df, g, dg, x):\n"
              "    for place in ('.', '/tmp', os.environ['HOME'], '/dev/shm'):\n"
              "        assert not os.path.exists(os.path.join(place, 'left_behind.txt')), place\n"
              "    return df(x) * g(x) + f(x) * dg(x)")
    with Sandbox() as sandbox:
        first = grade_notebook(placed(tmp_path, "a", writer), seed=1, limits=FAST, sandbox=sandbox)
        second = grade_notebook(placed(tmp_path, "b", product_rule=reader), seed=1, limits=FAST, sandbox=sandbox)
    assert first.score == 8 and first.cell_errors == []
    assert second.score == 8, [q.feedback for q in second.questions]


def test_a_copy_of_the_course_installed_in_site_packages_is_hidden_from_the_sandbox(tmp_path, monkeypatch,
                                                                                   namespaces):
    """Installed without -e, site-packages holds the whole package, its trusted half included."""
    from backprop_lib.grading import sandbox as sandbox_module

    site = tmp_path / "site-packages"
    (site / "backprop_lib" / "grading").mkdir(parents=True)
    (site / "backprop_lib" / "grading" / "ex01.py").write_text("ANSWERS = 'secret'\n")
    real = sandbox_module._site_packages
    monkeypatch.setattr(sandbox_module, "_site_packages", lambda: [*real(), str(site)])
    reader = ("import os\ndef product_rule(f, df, g, dg, x):\n"
              f"    assert os.path.isdir({str(site)!r}) and os.listdir({str(site / 'backprop_lib')!r}) == []\n"
              "    return df(x) * g(x) + f(x) * dg(x)")
    with Sandbox() as sandbox:
        result = grade_notebook(placed(tmp_path, "s", product_rule=reader), seed=1, limits=FAST, sandbox=sandbox)
    assert result.score == 8, [q.feedback for q in result.questions]
