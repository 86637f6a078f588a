"""Open every page of the built book in headless Chromium and check what a reader would see.

Run after `jupyter-book build .` (make test does both). Needs Debian's `chromium`; without it the
check is skipped on a laptop, with a message, and fails on CI (where `.ci/run` installs it).
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from book_config import repository_url, toc_files

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# pydata-sphinx-theme logs this once on a fresh browser profile; it is not a fault of the page.
KNOWN_CONSOLE_NOISE = ("Got invalid theme mode",)
RAW_LATEX = re.compile(r"\\(mathbf|boldsymbol|frac|sum|lambda|theta|eta|sigma|hat|log|partial|"
                       r"top|cdot|left|right|mathrm|text)\b")


PAGES = [f + ".html" for f in toc_files()]  # e.g. "book/intro.html"


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("no built book in _build/html: run `jupyter-book build .` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = ("Chromium is not installed (Debian: apt-get install chromium); "
                   "browser check skipped")
        if os.environ.get("CI"):
            pytest.fail(message.replace("skipped", "cannot be skipped on CI"))
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def open_page(browser, url: str):
    """Load `url` in a fresh page; return (page, console errors, requests that left localhost)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, external = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def block_outside(route):
        if urlparse(route.request.url).hostname not in ("127.0.0.1", "localhost"):
            external.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", block_outside)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, errors, external


@pytest.mark.parametrize("path", PAGES)
def test_page_renders(server, browser, path):
    page, errors, external = open_page(browser, f"{server}/{path}")
    # MathJax typesets after load; wait for it when the page has math.
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || "
                           "MathJax.startup.promise.then(() => true)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / (path.replace("/", "__").removesuffix(".html") + ".png"),
                    full_page=True)

    assert not external, f"{path} loads from outside the book (it must render offline): {external}"
    real_errors = [e for e in errors if not any(n in e for n in KNOWN_CONSOLE_NOISE)]
    assert not real_errors, f"{path} logs JavaScript errors: {real_errors}"

    broken = page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
               ".map(i => i.src.slice(0, 80))")
    assert not broken, f"{path} has images that did not load: {broken}"

    text = page.inner_text("article")
    assert "$$" not in text, f"{path} shows raw $$ math: MathJax did not render it"
    # Math that MyST did not recognise (a line starting with "- " inside $...$ becomes a list) shows
    # as raw LaTeX in the prose; code cells may legitimately contain backslashes, so skip them.
    prose = page.eval_on_selector_all(
        "article p, article li, article td", "els => els.filter(e => !e.closest('pre, code, "
        ".cell_output, mjx-container')).map(e => e.innerText)")
    raw = [t[:120] for t in prose if RAW_LATEX.search(t)]
    assert not raw, f"{path} shows raw LaTeX (math not rendered): {raw}"
    if page.locator("div.math, span.math").count():
        assert page.locator("mjx-container").count(), f"{path} has math but MathJax rendered none"

    if path.startswith("notebooks/"):
        check_colab_link(page, path)
        check_sliders(page, path)
    page.close()


def check_colab_link(page, path: str) -> None:
    """The launch menu's Colab link opens this very notebook from the repository."""
    links = page.eval_on_selector_all("a[href*='colab.research.google.com']",
                                      "links => links.map(a => a.href)")
    repo = urlparse(repository_url()).path.strip("/")
    notebook = path.removesuffix(".html") + ".ipynb"
    expected = f"https://colab.research.google.com/github/{repo}/blob/main/{notebook}"
    assert expected in links, f"{path}: no Colab link to {expected} (found {links})"


def check_sliders(page, path: str) -> None:
    """On widget pages, moving a frame slider changes the picture."""
    sliders = page.locator("input[type=range]")
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        before = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.src)")
        new_value = slider.evaluate(
            "s => { s.value = (Number(s.value) === Number(s.max)) ? s.min : s.max;"
            " s.dispatchEvent(new Event('input', {bubbles: true}));"
            " s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; }")
        after = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.src)")
        assert before != after, (
            f"{path}: moving slider {i} to {new_value} did not change the picture")
