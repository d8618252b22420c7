"""What the browser tests share: JupyterLab started as students start it, Chromium, and helpers.

nbval proves the kernel side; the browser tests prove what a student sees. JupyterLab is started the
way the README tells students to start it (``python -m backprop_lib lab``) in a copy of the course, and
Debian's headless Chromium is driven by Playwright. The tests are split into two modules
(test_browser_lessons.py, test_browser_course.py), each with its own server and browser, so that
two pytest-xdist workers can run them side by side. The tests of a module take turns on one page, so
that JupyterLab loads once per module (``open_notebook``); a failed test's successor gets a fresh one.

Needs Debian's Chromium (``apt-get install -y chromium``) and Python Playwright (in the dev extras).
Without them the tests skip and say how to install them; with BACKPROP_COURSE_REQUIRE_BROWSER=1 (set
by .ci/run) a missing browser is a failure instead. Side by side they take about 80 s; leave
them out with ``-m "not browser"``. A failing test saves a screenshot under browser-failures/ in the
repository and ends its message with where it is and the last lines of JupyterLab's log.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from notebook_text import ROOT, explorer_count, image_count


# Debian's Chromium; elsewhere, point BACKPROP_COURSE_CHROMIUM at a Chromium or Chrome executable
CHROMIUM = Path(os.environ.get("BACKPROP_COURSE_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("BACKPROP_COURSE_REQUIRE_BROWSER") == "1"
INSTALL = ('apt-get install -y chromium (or set BACKPROP_COURSE_CHROMIUM to a Chromium executable), and '
           'python -m pip install -e ".[dev]" for Playwright')
FAILURES = ROOT / "browser-failures"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or not CHROMIUM.exists():
    missing = "Python Playwright" if sync_playwright is None else f"Chromium at {CHROMIUM}"
    if REQUIRED:
        pytest.fail(f"the browser tests need {missing} (BACKPROP_COURSE_REQUIRE_BROWSER=1 makes its absence a "
                    f"failure); install with: {INSTALL}", pytrace=False)
    pytest.skip(f"the browser tests need {missing}; install with: {INSTALL}", allow_module_level=True)

LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
# What the tests need, stored as the user's own settings; everything else is what a student gets
SETTINGS = {
    # every cell in the page, so that every figure and widget can be found
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no writes back to the copied notebooks while a test looks at them
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
# A dialog (such as "Select Kernel") or a notification toast (such as the news question)
POP_UPS = ".jp-Dialog, .Toastify__toast"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab(NamedTuple):
    base: str  # http://127.0.0.1:<port>
    token: str
    opened: Path | None  # the page a student's browser is sent to: it forwards to the first lesson
    log: Path  # the server's output

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# What a lesson's kernel loads; imported once before the server starts (see serve_course)
WARM_IMPORTS = "import ipykernel.kernelapp, ipywidgets, matplotlib.pyplot, numpy, backprop_lib.widgets"


@contextmanager
def serve_course(home: Path) -> Iterator[Lab]:
    """JupyterLab started by ``backprop-course lab`` in a copy of the course under ``home``, on
    127.0.0.1 with a random port and token."""
    course = home / "course"
    for folder in ("lessons", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, course / folder)
    settings = home / "settings"
    for name, values in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "backprop_lib", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    runtime = home / "runtime"
    environment = {**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(runtime)}
    # A fresh machine loads these from disk once, and matplotlib builds its font cache once per home
    # folder: pay for that here, not inside a test's first page.
    subprocess.run([sys.executable, "-c", WARM_IMPORTS], env=environment, check=True, timeout=300)
    log_path = home / "jupyterlab.log"
    log = open(log_path, "w")
    server = subprocess.Popen(command, cwd=course, stdout=log, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start; see {log_path}")
            time.sleep(0.3)
    opened = sorted(runtime.glob("jpserver-file-to-run-*-open.html"))
    lab = Lab(base, token, opened[0] if opened else None, log_path)
    try:
        yield lab
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with nothing that reaches for the network on its own."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


@contextmanager
def fresh_page(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own (no storage shared with other tests)."""
    page = new_page(browser)
    try:
        yield page
    finally:
        page.context.close()


def new_page(browser: Browser) -> Page:
    """A page in a browser context of its own; the caller closes its ``.context``."""
    return browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


@contextmanager
def screenshot_on_failure(page: Page, name: str, lab: Lab) -> Iterator[None]:
    """On any failure: save a screenshot, and fail with where it is and the end of the server's log."""
    try:
        yield
    except BaseException as exc:
        FAILURES.mkdir(exist_ok=True)
        shot = FAILURES / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception:
            shot = "none: the page could not be captured"
        pytest.fail(f"{exc} (screenshot: {shot}); JupyterLab's log ends:\n{lab.log_tail()}")


def wait_for_kernel(page: Page) -> None:
    """Wait until the notebook's kernel is started and connected, and check that nothing (such as a
    "Select Kernel" dialog) had to be answered for that."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # the status bar reads "Python 3 (ipykernel) | Idle" once the kernel has started and connected
    idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle").first
    deadline = time.monotonic() + 120
    while not idle.is_visible():
        pop_ups = page.locator(POP_UPS)
        assert not pop_ups.count(), f"a pop-up to dismiss while the kernel starts: {pop_ups.first.inner_text()[:200]!r}"
        assert time.monotonic() < deadline, "the kernel did not start and connect within 120 s"
        page.wait_for_timeout(200)


def _close_everything(page: Page, lab: Lab) -> None:
    """Close every tab of the JupyterLab in ``page`` (discarding changes) and shut down every kernel."""
    page.click(".lm-MenuBar-itemLabel:text-is('File')")
    page.click(".lm-Menu-itemLabel:text-is('Close All Tabs')")
    deadline = time.monotonic() + 30
    while page.locator(".jp-NotebookPanel").count():  # (closing the last tab opens a launcher)
        dialog = page.locator(".jp-Dialog")
        if dialog.count():  # "Save changes in ... before closing?"
            dialog.locator("button", has_text="Discard").first.click()
        assert time.monotonic() < deadline, "the tabs of the previous test did not close"
        page.wait_for_timeout(100)
    for session in json.load(urllib.request.urlopen(f"{lab.base}/api/sessions?token={lab.token}", timeout=10)):
        urllib.request.urlopen(urllib.request.Request(
            f"{lab.base}/api/sessions/{session['id']}?token={lab.token}", method="DELETE"), timeout=30)


def open_notebook(page: Page, lab: Lab, path: str) -> None:
    """``path`` open in JupyterLab with its kernel idle. A page that already shows this JupyterLab
    (the previous test's) opens it there, after closing that test's tabs and kernels: loading the
    application costs a few seconds of processor each time, its use a fraction of one."""
    if page.url.startswith(f"{lab.base}/lab") and page.locator("#jp-main-dock-panel").count():
        _close_everything(page, lab)
        page.click(".lm-MenuBar-itemLabel:text-is('File')")
        page.click(".lm-Menu-itemLabel:text-is('Open from Path…')")
        page.locator(".jp-Dialog input").fill(path)
        page.keyboard.press("Enter")
    else:
        page.goto(f"{lab.base}/lab/tree/{path}?reset&token={lab.token}")  # reset: no tabs restored from earlier runs
    # cells queued before the kernel is connected can be dropped when the session settles on it
    wait_for_kernel(page)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text()
    assert Path(path).stem[:20] in tab, f"the open tab is {tab!r}, not {path}"


def open_and_run_all(page: Page, lab: Lab, path: str) -> None:
    open_notebook(page, lab, path)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    # every code cell gets a number once it has run; [*] means still running
    page.wait_for_function(
        """() => {
            // a cell whose code is folded shows a placeholder with a prompt of its own, never numbered
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt:not(.jp-Placeholder-prompt)')]
                .filter(p => p.offsetParent !== null);
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=120_000, polling=100)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def check_rendered(page: Page, notebook: Path) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not errors.count(), f"{notebook.name}: error output in the browser: {errors.first.inner_text()[:300]}"
    expected = image_count(notebook)
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('.jp-RenderedImage img')]
                 .filter(img => img.complete && img.naturalWidth > 0).length >= {expected}""", timeout=30_000, polling=100)
    assert not page.locator("text=Error displaying widget").count(), f"{notebook.name}: a widget failed to display"
    # every explorer the notebook displays is drawn: a widget view with a visible size and controls
    views = page.locator(".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(> .jupyter-widgets)")
    explorers = explorer_count(notebook)
    assert views.count() >= explorers, f"{notebook.name}: {views.count()} widgets rendered, {explorers} explorers displayed"
    for index in range(views.count()):
        view = views.nth(index)
        view.scroll_into_view_if_needed()
        box = view.bounding_box()
        assert box and box["height"] > 20 and view.locator(".widget-slider, .widget-dropdown, .widget-button").count(), \
            f"{notebook.name}: widget {index + 1} is empty"
