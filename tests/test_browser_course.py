"""The course around the lessons in JupyterLab and Chromium: it opens on lesson 01 with nothing to
dismiss, every solution runs and renders, and an exercise's check cell answers what is typed into
it. See browser_support.py for the set-up and requirements."""
from __future__ import annotations

import pytest

from browser_support import (LESSONS, POP_UPS, SOLUTIONS, check_rendered, fresh_page, open_and_run_all,
                             screenshot_on_failure, wait_for_kernel)
from notebook_text import ROOT

pytestmark = pytest.mark.browser


def test_the_course_opens_on_its_first_lesson_with_nothing_to_dismiss(lab, page):
    """What a student sees after ``backprop-course lab``: lesson 01 open, its kernel running, the
    course's folders in the file browser, and no dialog or notification asking for an answer."""
    assert lab.opened is not None, "backprop-course lab did not ask JupyterLab to open a notebook"
    with screenshot_on_failure(page, "first_page", lab):
        page.goto(lab.opened.as_uri())  # the page the browser is sent to; it forwards to the lesson
        wait_for_kernel(page)
        # the file browser shows lessons/ as a folder of the root, so exercises/ is one step away
        crumbs = page.locator(".jp-BreadCrumbs").first.inner_text()
        assert "lessons" in crumbs, f"the file browser is at {crumbs!r}, not in the course folder's lessons/"
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text()
        assert tab.startswith(LESSONS[0].removesuffix(".ipynb")[:20]), f"the open tab is {tab!r}, not lesson 01"
        # before it runs, an explorer's cell says how to bring it to life instead of showing a repr
        assert page.get_by_text("run this cell to use the interactive explorer").count() >= 1
        assert not page.get_by_text("VBox(children=").count(), "a stored explorer shows its widget repr"
        # the news question and update notices come once the application is restored; give them time
        page.wait_for_timeout(5_000)
        pop_ups = page.locator(POP_UPS)
        assert not pop_ups.count(), f"a pop-up the student has to dismiss: {pop_ups.first.inner_text()[:200]!r}"


@pytest.mark.parametrize("name", SOLUTIONS)
def test_a_solution_runs_and_renders(lab, page, name):
    with screenshot_on_failure(page, name, lab):
        open_and_run_all(page, lab, f"solutions/{name}")
        check_rendered(page, ROOT / "solutions" / name)
        assert page.locator(".jp-OutputArea-output:has-text('ok')").count() >= 3


def test_an_answer_typed_into_an_exercise_gets_feedback(lab, page):
    with screenshot_on_failure(page, "exercise_flow", lab):
        open_and_run_all(page, lab, "exercises/01_computational_graphs.ipynb")
        cell = page.locator(".jp-CodeCell:has-text('def numerical_derivative')").first
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.type("def numerical_derivative(f, x, h=1e-5):\nreturn (f(x + h) - f(x - h)) / (2 * h)\n")
        page.keyboard.press("Shift+Enter")  # runs the answer and moves to its check cell
        page.keyboard.press("Shift+Enter")  # runs the check
        feedback = page.locator(".jp-CodeCell:has-text('check(\"01.numerical_derivative\")') .jp-OutputArea-output")
        feedback.filter(has_text="all 3 tests passed").wait_for(timeout=30_000)


def test_the_class_report_renders_its_figures_offline(browser, tmp_path):
    """The report opened from disk, with the network cut: every figure decodes and shows."""
    from backprop_lib.grading.report import write_report
    from test_report import make_class_gradebook

    out = tmp_path / "report.html"
    write_report(make_class_gradebook(tmp_path), out)
    with fresh_page(browser) as page:  # a context of its own: it goes offline
        _check_report(page, out)


def _check_report(page, out):
    page.context.set_offline(True)
    page.goto(out.as_uri())
    figures = page.locator("img.figure")
    assert figures.count() == 1
    sizes = figures.evaluate_all("images => images.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert all(done and width > 100 and height > 50 for done, width, height in sizes), sizes
    assert page.locator("section.exercise table tbody tr").count() == 2
    assert "product of the derivatives" in page.locator("section.exercise").inner_text()
