"""The browser tests' fixtures (each browser module gets its own server and browser), the sandbox
tests' fixture, and the order in which pytest-xdist hands out the suite's units of work.

The browser set-up lives in browser_support.py, imported only when a browser test asks for these
fixtures, so that the rest of the suite neither needs nor waits for Playwright.
"""
from __future__ import annotations

import os

import pytest


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


@pytest.fixture
def page(browser):
    from browser_support import fresh_page

    with fresh_page(browser) as fresh:
        yield fresh


def pytest_collection_modifyitems(config, items):
    """The order in which pytest-xdist hands out units of work (one per module or notebook, as with
    --dist loadscope): the two browser modules first, so that they start at once, side by side, on
    the two workers; then the rest, largest first (what xdist itself would do by default), so that
    no long unit is left for the end."""
    scopes: dict[str, list] = {}
    for item in items:
        scopes.setdefault(item.nodeid.rsplit("::", 1)[0], []).append(item)
    ordered = sorted(scopes.values(), key=lambda group: (group[0].get_closest_marker("browser") is None, -len(group)))
    items[:] = [item for group in ordered for item in group]
