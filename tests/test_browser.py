"""The course in a real browser: JupyterLab and headless Chromium, driven by Playwright.

nbval proves the kernel side; this proves what a student sees. JupyterLab is started the way the
README tells students to start it (``backprop-course lab``), and then: the course opens on its first
lesson with nothing to dismiss, every lesson and solution runs in JupyterLab without an error output,
its figures and widgets render, each lesson's explorer answers its slider, and an exercise's check
cell shows feedback for an answer typed into it.

Needs Debian's Chromium (``apt-get install -y chromium``) and Python Playwright (in the dev extras).
Without them the tests skip and say how to install them; with BACKPROP_COURSE_REQUIRE_BROWSER=1 (set
by .ci/run) a missing browser is a failure instead. The module takes about three minutes; leave it
out with ``-m "not browser"``. A failing test saves a screenshot under browser-failures/ in the
repository and names the file in its failure message.
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

import pytest

from notebook_text import ROOT, image_count

CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = os.environ.get("BACKPROP_COURSE_REQUIRE_BROWSER") == "1"
INSTALL = 'apt-get install -y chromium, and python -m pip install -e ".[dev]" for Playwright'
FAILURES = ROOT / "browser-failures"

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import Page, sync_playwright
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab started by ``backprop-course lab`` in a copy of the course, on 127.0.0.1 with a random
    port and token; yields its address, its token and the page it would open in a browser."""
    home = tmp_path_factory.mktemp("lab")
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
    log = open(home / "jupyterlab.log", "w")
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
                pytest.fail(f"JupyterLab did not start; see {home / 'jupyterlab.log'}")
            time.sleep(0.3)
    # what a student's browser is sent to: a local page that forwards to the first lesson
    opened = sorted(runtime.glob("jpserver-file-to-run-*-open.html"))
    try:
        yield base, token, opened[0] if opened else None
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page in a fresh browser context (no storage shared with other tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException as exc:
        FAILURES.mkdir(exist_ok=True)
        shot = FAILURES / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception:
            shot = "none: the page could not be captured"
        pytest.fail(f"{exc} (screenshot: {shot})")


def _wait_for_kernel(page: Page) -> None:
    """Wait until the notebook's kernel is started and connected, and check that nothing (such as a
    "Select Kernel" dialog) had to be answered for that."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # the status bar reads "Python 3 (ipykernel) | Idle" once the kernel has started and connected
    idle = page.locator(".jp-StatusBar-Widget", has_text="| Idle").first
    deadline = time.monotonic() + 60
    while not idle.is_visible():
        pop_ups = page.locator(POP_UPS)
        assert not pop_ups.count(), f"a pop-up to dismiss while the kernel starts: {pop_ups.first.inner_text()[:200]!r}"
        assert time.monotonic() < deadline, "the kernel did not start within 60 s"
        page.wait_for_timeout(200)


def _open_and_run_all(page: Page, lab: tuple[str, str, Path | None], path: str) -> None:
    base, token, _ = lab
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: no tabs restored from earlier tests
    # cells queued before the kernel is connected can be dropped when the session settles on it
    _wait_for_kernel(page)
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    # every code cell gets a number once it has run; [*] means still running
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                .filter(p => p.offsetParent !== null);
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def _check_rendered(page: Page, notebook: Path) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not errors.count(), f"{notebook.name}: error output in the browser: {errors.first.inner_text()[:300]}"
    expected = image_count(notebook)
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('.jp-RenderedImage img')]
                 .filter(img => img.complete && img.naturalWidth > 0).length >= {expected}""", timeout=30_000)
    assert not page.locator("text=Error displaying widget").count(), f"{notebook.name}: a widget failed to display"


def test_the_course_opens_on_its_first_lesson_with_nothing_to_dismiss(lab, page):
    """What a student sees after ``backprop-course lab``: lesson 01 open, its kernel running, the
    course's folders in the file browser, and no dialog or notification asking for an answer."""
    _, _, opened = lab
    assert opened is not None, "backprop-course lab did not ask JupyterLab to open a notebook"
    with screenshot_on_failure(page, "first_page"):
        page.goto(opened.as_uri())  # the page the browser is sent to; it forwards to the lesson
        _wait_for_kernel(page)
        # the file browser shows lessons/ as a folder of the root, so exercises/ is one step away
        crumbs = page.locator(".jp-BreadCrumbs").first.inner_text()
        assert "lessons" in crumbs, f"the file browser is at {crumbs!r}, not in the course folder's lessons/"
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text()
        assert tab.startswith(LESSONS[0].removesuffix(".ipynb")[:20]), f"the open tab is {tab!r}, not lesson 01"
        # the news question and update notices come once the application is restored; give them time
        page.wait_for_timeout(5_000)
        pop_ups = page.locator(POP_UPS)
        assert not pop_ups.count(), f"a pop-up the student has to dismiss: {pop_ups.first.inner_text()[:200]!r}"


@pytest.mark.parametrize("name", LESSONS)
def test_a_lesson_runs_renders_and_its_explorer_answers_the_slider(lab, page, name):
    with screenshot_on_failure(page, name):
        _open_and_run_all(page, lab, f"lessons/{name}")
        _check_rendered(page, ROOT / "lessons" / name)
        assert page.locator(".widget-slider, .widget-dropdown").count(), f"{name}: no widget rendered"
        explorer = page.locator(".widget-vbox:has(.widget-html):has(.widget-slider)").first
        explorer.scroll_into_view_if_needed()
        shown = explorer.locator(".widget-html").first
        before = shown.inner_text()
        picture = explorer.locator("img").first.get_attribute("src")
        explorer.locator(".widget-slider .noUi-handle").first.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        train = explorer.locator(".widget-button")
        if train.count():  # the training explorer shows a new model only when asked to train it
            train.first.click()
        page.wait_for_function(
            """([node, text, src]) => {
                const img = node.querySelector('img');
                return node.querySelector('.widget-html').innerText !== text || (img && img.src !== src);
            }""", arg=[explorer.element_handle(), before, picture], timeout=30_000)


@pytest.mark.parametrize("name", SOLUTIONS)
def test_a_solution_runs_and_renders(lab, page, name):
    with screenshot_on_failure(page, name):
        _open_and_run_all(page, lab, f"solutions/{name}")
        _check_rendered(page, ROOT / "solutions" / name)
        assert page.locator(".jp-OutputArea-output:has-text('ok')").count() >= 3


def test_an_answer_typed_into_an_exercise_gets_feedback(lab, page):
    with screenshot_on_failure(page, "exercise_flow"):
        _open_and_run_all(page, lab, "exercises/01_computational_graphs.ipynb")
        cell = page.locator(".jp-CodeCell:has-text('def numerical_derivative')").first
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.type("def numerical_derivative(f, x, h=1e-5):\nreturn (f(x + h) - f(x - h)) / (2 * h)\n")
        page.keyboard.press("Shift+Enter")  # runs the answer and moves to its check cell
        page.keyboard.press("Shift+Enter")  # runs the check
        feedback = page.locator(".jp-CodeCell:has-text('check(\"01.numerical_derivative\")') .jp-OutputArea-output")
        feedback.filter(has_text="all 3 tests passed").wait_for(timeout=30_000)
