"""Fixtures of the browser tests (test_browser_*.py); each module gets its own server and browser.

The set-up lives in browser_support.py, which is imported only when a browser test asks for these,
so that the rest of the suite neither needs nor waits for Playwright.
"""
from __future__ import annotations

import pytest


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
    """Browser tests first: each of their two modules is a long unit of work for one pytest-xdist
    worker, so they start at once, side by side, and the short tests fill in around them."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is None)
