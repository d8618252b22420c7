"""The browser tests' fixtures (each browser module gets its own server and browser), the sandbox
tests' fixture, and the order in which pytest-xdist hands out the suite's units of work.

The browser set-up lives in browser_support.py, imported only when a browser test asks for these
fixtures, so that the rest of the suite neither needs nor waits for Playwright.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Two workers run side by side on the machine's cores, each with kernels, sandboxes and servers of its
# own: BLAS threads on top of that only contend (OpenBLAS's idle threads spin). One thread per process
# for everything the suite starts; no stored output may depend on it (another machine has another
# number of cores), and the portability tests would catch one that did.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


@pytest.fixture(scope="session")
def namespaces():
    """For tests of the sandbox's namespaces: skip where bubblewrap cannot make them (fail instead
    under BACKPROP_COURSE_REQUIRE_SANDBOX=1, as in CI)."""
    from backprop_lib.grading.sandbox import isolation_level

    level, reason = isolation_level()
    if level != "namespaces":
        message = f"needs bubblewrap's namespaces ({reason}); on Debian: apt-get install -y bubblewrap"
        if os.environ.get("BACKPROP_COURSE_REQUIRE_SANDBOX") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab, started by ``backprop-course lab`` in a copy of the course."""
    from browser_support import serve_course

    with serve_course(tmp_path_factory.mktemp("lab")) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    from browser_support import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def _pages(browser):
    """The page the browser tests of one module share (see ``page``), in a list so it can be replaced."""
    from browser_support import new_page

    pages = [new_page(browser)]
    yield pages
    for page in pages:
        page.context.close()


@pytest.fixture
def page(_pages, browser, request):
    """A browser page. The tests of a module take turns on one page, so that JupyterLab loads once
    (open_notebook closes the previous test's tabs and kernels); after a failed test the next one
    gets a fresh page in a context of its own."""
    yield _pages[-1]
    report = getattr(request.node, "_call_report", None)
    if report is None or report.failed:
        from browser_support import new_page

        _pages.append(new_page(browser))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item._call_report = outcome.get_result()


def _whole_suite(config) -> bool:
    """Whether this run includes the portability tests: the whole suite (no paths given, or the tests
    folder, or that module), and not only the browser tests."""
    marks = config.getoption("markexpr", "") or ""
    if "browser" in marks and "not browser" not in marks:
        return False
    paths = [Path(str(arg).split("::")[0]).resolve() for arg in config.args]
    tests = Path(__file__).parent.resolve()
    return not config.args or any(p in (tests, tests.parent, tests / "test_portability.py") for p in paths)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """In the process that runs the session (not in an xdist worker), start the notebooks' runs under
    other BLAS kernels at once, so that they overlap with the rest (see test_portability.py)."""
    config = session.config
    if hasattr(config, "workerinput") or config.getoption("collectonly") or not _whole_suite(config):
        return
    from test_portability import EARLY, launch_with_the_session

    folder = Path(tempfile.mkdtemp(prefix="backprop-portability-"))
    os.environ[EARLY] = str(folder)
    config._portability_runs = (folder, launch_with_the_session(folder))


def pytest_sessionfinish(session):
    started = getattr(session.config, "_portability_runs", None)
    if started is None:
        return
    folder, runs = started
    for run in runs:
        if run.poll() is None:
            run.kill()
        run.wait()
    shutil.rmtree(folder, ignore_errors=True)
    os.environ.pop("BACKPROP_COURSE_PORTABILITY_RUNS", None)


# Units that spend most of their time waiting on processes of their own (nbval under other BLAS
# kernels, sandboxes, batches of the grader): handed out right after the browser modules, in this
# order, so that the CPU those processes leave idle goes to the many short units that follow.
WAITING_FIRST = ("tests/test_grading_attacks.py", "tests/test_gradebook.py",
                 "tests/test_grading_hostile.py", "tests/test_release.py", "tests/test_platforms.py",
                 "tests/test_feedback.py", "tests/test_grading_sandbox.py", "tests/test_build.py")


LAST = "tests/test_portability.py"  # its runs start with the session; its tests only read their verdicts


def pytest_collection_modifyitems(config, items):
    """The order in which pytest-xdist hands out units of work (one per module, class or notebook, as
    with --dist loadscope): the two browser modules first, so that they start at once, side by side,
    on the two workers; then the units that mostly wait (WAITING_FIRST); then the rest, largest first
    (what xdist itself would do by default), so that no long unit is left for the end; and last the
    portability tests, which read the verdicts of runs under way since the session started."""
    scopes: dict[str, list] = {}
    for item in items:
        scopes.setdefault(item.nodeid.rsplit("::", 1)[0], []).append(item)

    def rank(group: list) -> tuple:
        module = group[0].nodeid.split("::", 1)[0]
        waiting = WAITING_FIRST.index(module) if module in WAITING_FIRST else len(WAITING_FIRST)
        return module == LAST, group[0].get_closest_marker("browser") is None, waiting, -len(group)

    items[:] = [item for group in sorted(scopes.values(), key=rank) for item in group]
