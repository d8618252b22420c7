"""Every lesson in JupyterLab and Chromium: it runs without an error output, its figures and widgets
render, and its explorer answers its slider. See browser_support.py for the set-up and requirements."""
from __future__ import annotations

import pytest

from browser_support import LESSONS, check_rendered, open_and_run_all, screenshot_on_failure
from notebook_text import ROOT

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", LESSONS)
def test_a_lesson_runs_renders_and_its_explorer_answers_the_slider(lab, page, name):
    with screenshot_on_failure(page, name, lab):
        open_and_run_all(page, lab, f"lessons/{name}")
        check_rendered(page, ROOT / "lessons" / name)
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
            }""", arg=[explorer.element_handle(), before, picture], timeout=30_000, polling=100)
