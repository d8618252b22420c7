"""The course in a real browser: JupyterLab and headless Chromium, driven by Playwright.

nbval proves the kernel side; this proves what a student sees: every lesson and solution runs in
JupyterLab without an error output, its figures render, its widgets render, each lesson's explorer
answers its slider, and an exercise's check cell shows feedback for an answer typed into it.

Needs Debian's Chromium and Python Playwright, and runs when BACKPROP_COURSE_BROWSER=1 (about three
minutes); otherwise the tests skip with instructions, unless BACKPROP_COURSE_REQUIRE_BROWSER=1 makes
a missing browser a failure. Screenshots of failures
are saved under browser-failures/ in the repository, and the failure message names the file.
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
WANTED = REQUIRED or os.environ.get("BACKPROP_COURSE_BROWSER") == "1"
INSTALL = "install them with: apt-get install -y chromium && python -m pip install playwright"
FAILURES = ROOT / "browser-failures"

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if not WANTED:
    pytest.skip("the browser tests run with BACKPROP_COURSE_BROWSER=1", allow_module_level=True)
if sync_playwright is None or not CHROMIUM.exists():
    missing = "Python Playwright" if sync_playwright is None else str(CHROMIUM)
    if REQUIRED:
        raise RuntimeError(f"the browser tests need {missing}: {INSTALL}")
    pytest.skip(f"the browser tests need {missing}; {INSTALL}", allow_module_level=True)

LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
SETTINGS = {
    # every cell in the page, so that every figure and widget can be found
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
    # no pop-up asking about news, and no writes back to the copied notebooks
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the course, on 127.0.0.1 with a random port and token."""
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
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(home / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(home)})
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
    try:
        yield base, token
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
def page(browser, request):
    """A fresh page; if the test fails in any way, a screenshot is saved and named in the failure."""
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


def _open_and_run_all(page: Page, lab: tuple[str, str], path: str) -> None:
    base, token = lab
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: no tabs restored from earlier tests
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # the status bar reads "Python 3 (ipykernel) | Idle" once the kernel has started and connected;
    # cells queued earlier can be dropped when the session settles on its kernel
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
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
