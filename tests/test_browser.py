"""Open every page of the built book in headless Chromium and check what a reader would see.

Run after `jupyter-book build .` (make test does both; D2LITE_BOOK_HTML names another built book).
Needs Debian's `chromium`; without it the check is skipped on a laptop, with a message, and fails on
CI (where `.ci/run` installs it). Every page is read at a laptop width and again at a phone's
(390 x 844), where nothing may scroll the page sideways.
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
HTML = Path(os.environ.get("D2LITE_BOOK_HTML") or ROOT / "_build" / "html")
PHONE = {"width": 390, "height": 844}
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# pydata-sphinx-theme logs this once on a fresh browser profile; it is not a fault of the page.
KNOWN_CONSOLE_NOISE = ("Got invalid theme mode",)
RAW_LATEX = re.compile(r"\\(mathbf|boldsymbol|frac|sum|lambda|theta|eta|sigma|hat|log|partial|"
                       r"top|cdot|left|right|mathrm|text)\b")


PAGES = [f + ".html" for f in toc_files()]  # e.g. "book/intro.html"
# Pages whose widgets are frame sliders, and how many sliders each shows at least: a page whose
# widget went missing fails here rather than passing check_sliders with nothing to move.
WIDGET_SLIDERS = {
    "notebooks/06_attention/multihead_self_attention.html": 3,  # layer, head, example
    "notebooks/06_attention/transformer.html": 2,  # head, layer (one sentence in the book)
}


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("no built book in _build/html: run `jupyter-book build .` first")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
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


def open_page(browser, url: str, viewport: dict | None = None):
    """Load `url` in a fresh page; return (page, console errors, requests that left localhost)."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
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
    page.wait_for_load_state("networkidle", timeout=90_000)  # a busy CI machine is slow
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
    math_errors = page.eval_on_selector_all(
        "mjx-merror, [data-mjx-error]",
        "els => els.map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80))")
    assert not math_errors, f"{path}: MathJax could not typeset: {math_errors}"
    # Math that MyST did not recognise (a line starting with "- " inside $...$ becomes a list) shows
    # as raw LaTeX in the prose; code cells may legitimately contain backslashes, so skip them.
    prose = page.eval_on_selector_all(
        "article p, article li, article td", "els => els.filter(e => !e.closest('pre, code, "
        ".cell_output, mjx-container')).map(e => e.innerText)")
    raw = [t[:120] for t in prose if RAW_LATEX.search(t)]
    assert not raw, f"{path} shows raw LaTeX (math not rendered): {raw}"
    if page.locator("div.math, span.math").count():
        assert page.locator("mjx-container").count(), f"{path} has math but MathJax rendered none"

    check_equations_start_in_view(page, path)
    check_figure_numbers(page, path)
    if path.startswith("notebooks/"):
        # lesson code lines are at most 88 characters; at a 1280-px laptop width they must show
        # whole, without a sideways scroll inside the code box
        wide = page.eval_on_selector_all(
            "div.cell_input pre", "pres => pres.filter(p => p.scrollWidth > p.clientWidth + 1)"
                                  ".map(p => p.innerText.split('\\n')[0].slice(0, 60))")
        assert not wide, f"{path}: code cells scroll sideways at 1280 px: {wide}"
        hidden = page.eval_on_selector_all(
            "div.cell_output pre", "pres => pres.filter(p => p.scrollWidth > p.clientWidth + 1)"
                                   ".map(p => p.innerText.slice(0, 60))")
        assert not hidden, f"{path}: printed lines run out of their box at 1280 px: {hidden}"
        check_colab_link(page, path)
        check_sliders(page, path)
        bare = page.eval_on_selector_all(
            ".d2lite-widget", "ws => ws.filter(w => !(w.closest('figure') && w.closest('figure')"
                              ".querySelector('.caption-number'))).length")
        assert not bare, f"{path}: {bare} widget(s) without a numbered caption"
        check_diagrams(page, path, smallest_scale=0.9)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    check_no_sideways_scroll(page, path)
    check_equations_start_in_view(page, path)
    if path.startswith("notebooks/"):
        check_diagrams(page, path, smallest_scale=0.5)
        page.evaluate("() => document.documentElement.dataset.theme = 'dark'")
        page.wait_for_timeout(200)
        check_diagrams(page, path, smallest_scale=0.5)
    if path.startswith("notebooks/"):
        check_colab_link_on_top(page, path)
    page.close()


def check_diagrams(page, path: str, smallest_scale: float) -> None:
    """Every diagram (a figure drawn by d2lite.diagrams in a cell the book hides) is visible and
    not blank: it fits the screen, is shown at least `smallest_scale` of its drawn size (so its
    smallest text stays readable), sits on an opaque white card with no filter, and holds dark
    ink (text and lines) on that white: the text contrasts with what is right behind it."""
    found = page.eval_on_selector_all(
        "div.cell.tag_remove-input figure img",
        """imgs => imgs.map(img => {
             const box = img.getBoundingClientRect();
             const canvas = document.createElement('canvas');
             canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
             const ctx = canvas.getContext('2d');
             ctx.drawImage(img, 0, 0);
             const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
             let dark = 0, light = 0;
             for (let i = 0; i < px.length; i += 4) {
               const lum = 0.2126 * px[i] + 0.7152 * px[i + 1] + 0.0722 * px[i + 2];
               if (px[i + 3] > 250 && lum < 90) dark++;
               if (px[i + 3] > 250 && lum > 240) light++;
             }
             const n = px.length / 4;
             const drawn = parseFloat(img.style.width) || img.naturalWidth;  // CSS px
             return {src: img.src.split('/').pop(), width: box.width, right: box.right,
                     scale: box.width / drawn, dark: dark / n, light: light / n,
                     corner: Array.from(px.slice(0, 4)), inner: window.innerWidth,
                     filter: getComputedStyle(img).filter,
                     visible: box.width > 0 && box.height > 0};
           })""")
    for d in found:
        where = f"{path}: diagram {d['src']} at {d['inner']} px"
        assert d["visible"] and d["right"] <= d["inner"] + 1, f"{where}: not in view: {d}"
        assert d["scale"] >= smallest_scale, f"{where}: shown at {d['scale']:.2f} of its size"
        assert d["corner"] == [255, 255, 255, 255] and d["filter"] == "none", (
            f"{where}: not an opaque white card: {d}")
        assert d["dark"] > 0.002 and d["light"] > 0.3, f"{where}: blank or unreadable: {d}"


def check_equations_start_in_view(page, path: str) -> None:
    """A display equation that does not fit its column opens at its left edge (and scrolls
    right), never with its start pushed out of reach to the left."""
    hidden = page.eval_on_selector_all(
        "article div.math",
        """boxes => boxes.filter(box => {
             const math = box.querySelector('mjx-math');
             return math && math.getBoundingClientRect().left
                            < box.getBoundingClientRect().left - 1;
           }).map(box => box.textContent.trim().slice(0, 50))""")
    assert not hidden, f"{path}: equations open with their start hidden to the left: {hidden}"


def check_no_sideways_scroll(page, path: str) -> None:
    """At a phone's width the page itself never scrolls sideways (a wide equation, table or
    output scrolls inside its own box)."""
    width, inner = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width <= inner:
        return
    culprits = page.evaluate(
        """inner => Array.from(document.querySelectorAll('article *'))
             .filter(e => e.getBoundingClientRect().right > inner + 1
                          && !e.parentElement.closest('pre, .math, mjx-container, table, '
                                                      + '.cell_output, .highlight'))
             .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className + ': '
                               + (e.textContent || '').trim().slice(0, 60))""", inner)
    pytest.fail(f"{path} is {width} px wide on a {inner} px phone screen; too wide: {culprits}")


def check_colab_link_on_top(page, path: str) -> None:
    """Under the lesson's title, on the first screen of a phone, a link opens it on Colab."""
    link = page.locator("article p.d2lite-colab a")
    assert link.count() == 1, f"{path}: no 'Open in Colab' link under the title"
    assert link.get_attribute("href") == colab_url(path), f"{path}: wrong Colab link"
    box = link.bounding_box()
    assert box and box["y"] < PHONE["height"], f"{path}: the Colab link is below the first screen"


def check_figure_numbers(page, path: str) -> None:
    """A link that says "Figure k" lands on the figure whose caption says "Figure k"."""
    pairs = page.eval_on_selector_all(
        "article a[href^='#fig-']",
        """links => links.map(a => {
             const target = document.getElementById(a.getAttribute('href').slice(1));
             const caption = target && target.querySelector('.caption-number');
             return [a.innerText, a.getAttribute('href'), caption ? caption.innerText : null];
           })""")
    for text, href, caption in pairs:
        said = re.search(r"Figure\s+(\d+)", text)
        if said:
            shown = re.search(r"(\d+)", caption or "")
            assert shown and shown[1] == said[1], (
                f"{path}: the link {text!r} goes to {href}, captioned {caption!r}")


def colab_url(path: str) -> str:
    repo = urlparse(repository_url()).path.strip("/")
    notebook = path.removesuffix(".html") + ".ipynb"
    return f"https://colab.research.google.com/github/{repo}/blob/main/{notebook}"


def test_sidebar_buttons_open_the_drawers_on_a_phone(server, browser):
    """The header's "Toggle primary sidebar" button opens the table of contents and the
    "Toggle secondary sidebar" (Contents) button the page's contents, at a phone's width."""
    path = next(p for p in PAGES if p.startswith("notebooks/"))
    page, errors, _ = open_page(browser, f"{server}/{path}", viewport=PHONE)
    for button, dialog, shows in (
            ("article .primary-toggle, .bd-header-article .primary-toggle",
             "#pst-primary-sidebar-modal", "a.reference.internal"),
            (".bd-header-article .secondary-toggle", "#pst-secondary-sidebar-modal",
             "nav.page-toc a")):
        visible = [b for b in page.locator(button).all() if b.is_visible()]
        assert visible, f"{path}: no visible {button} button at a phone's width"
        visible[0].click()
        page.wait_for_timeout(300)
        assert page.eval_on_selector(dialog, "d => d.open"), (
            f"{path}: clicking {button} did not open the drawer {dialog}")
        assert any(e.is_visible() for e in page.locator(f"{dialog} {shows}").all()[:3]), (
            f"{path}: the drawer {dialog} opened empty")
        titles = [e for e in page.locator(f"{dialog} a").all()
                  if e.is_visible() and "runnable and checked" in e.inner_text()]
        assert len(titles) <= 1, f"{path}: the drawer {dialog} shows the book's title twice"
        page.keyboard.press("Escape")
        page.wait_for_timeout(200)
        assert not page.eval_on_selector(dialog, "d => d.open"), f"{dialog} did not close"
    assert not [e for e in errors if not any(n in e for n in KNOWN_CONSOLE_NOISE)], errors
    page.close()


def test_a_link_tapped_in_a_drawer_closes_it_on_a_phone(server, browser):
    """Tapping a section in the page's contents drawer scrolls there and closes the drawer."""
    path = next(p for p in PAGES if p.startswith("notebooks/"))
    page, errors, _ = open_page(browser, f"{server}/{path}", viewport=PHONE)
    button = [b for b in page.locator(".bd-header-article .secondary-toggle").all()
              if b.is_visible()][0]
    button.click()
    page.wait_for_timeout(300)
    dialog = "#pst-secondary-sidebar-modal"
    assert page.eval_on_selector(dialog, "d => d.open")
    links = page.locator(f"{dialog} nav.page-toc a")
    target = links.nth(links.count() - 1)
    anchor = target.get_attribute("href")
    target.click()
    page.wait_for_timeout(500)
    assert not page.eval_on_selector(dialog, "d => d.open"), f"{path}: the drawer stayed open"
    top = page.eval_on_selector(anchor.replace(".", "\\."), "e => e.getBoundingClientRect().top")
    assert 0 <= top < PHONE["height"], f"{path}: {anchor} is not on screen after the tap ({top})"
    page.close()


def test_glossary_has_an_a_to_z_line_whose_letters_land_on_their_terms(server, browser):
    page, _, _ = open_page(browser, f"{server}/book/glossary.html", viewport=PHONE)
    letters = page.locator("p.d2lite-jump a")
    assert letters.count() >= 20, "the glossary has no A-Z jump line"
    for i in (0, letters.count() // 2, letters.count() - 1):
        letter = letters.nth(i)
        text, anchor = letter.inner_text(), letter.get_attribute("href")
        letter.click()
        page.wait_for_timeout(200)
        term = page.locator(f"dt[id='{anchor[1:]}']")
        assert term.inner_text().upper().startswith(text), (text, anchor)
        top = term.evaluate("e => e.getBoundingClientRect().top")
        assert 0 <= top < PHONE["height"], f"{text}: {anchor} is not on screen ({top})"
    page.close()


CONTRAST_JS = """el => {
  const rgb = c => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = rgb(c).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let back = el, bg = 'rgba(0, 0, 0, 0)';
  while (back && /rgba\\(.*, 0\\)$/.test(bg = getComputedStyle(back).backgroundColor))
    back = back.parentElement;
  const [a, b] = [lum(getComputedStyle(el).color), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_captions_are_readable_in_both_themes(server, browser, theme):
    """Figure captions reach WCAG AA contrast (4.5:1) against the page, light and dark."""
    path = "notebooks/04_cnn/batch_norm.html"
    page, _, _ = open_page(browser, f"{server}/{path}")
    page.evaluate(f"() => document.documentElement.dataset.theme = '{theme}'")
    page.wait_for_timeout(200)
    ratios = [page.locator("article figcaption").nth(i).evaluate(CONTRAST_JS)
              for i in range(page.locator("article figcaption").count())]
    assert ratios and min(ratios) >= 4.5, f"{theme}: caption contrast {min(ratios):.1f}:1"
    page.close()


def test_sidebar_button_hides_the_sidebar_on_a_laptop(server, browser):
    path = next(p for p in PAGES if p.startswith("notebooks/"))
    page, _, _ = open_page(browser, f"{server}/{path}", viewport={"width": 1366, "height": 900})
    sidebar = page.locator("#pst-primary-sidebar")
    assert sidebar.is_visible()
    page.locator(".bd-header-article .primary-toggle").click()
    page.wait_for_timeout(400)
    assert not sidebar.is_visible() or sidebar.bounding_box()["width"] < 5, (
        f"{path}: the sidebar button did not hide the table of contents")
    page.close()


def check_colab_link(page, path: str) -> None:
    """The launch menu's Colab link opens this very notebook from the repository."""
    links = page.eval_on_selector_all(".bd-header-article a[href*='colab.research.google.com']",
                                      "links => links.map(a => a.href)")
    expected = colab_url(path)
    assert expected in links, f"{path}: no Colab link to {expected} (found {links})"


def check_sliders(page, path: str) -> None:
    """On widget pages, moving a frame slider changes the picture."""
    sliders = page.locator("input[type=range]")
    assert sliders.count() >= WIDGET_SLIDERS.get(path, 0), (
        f"{path}: {sliders.count()} frame sliders, expected {WIDGET_SLIDERS[path]} or more")
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


def test_search_snippets_are_clean_prose(server, browser):
    """A search shows the prose around the hit: no raw LaTeX, no header buttons (".pdf")."""
    page, _, _ = open_page(browser, f"{server}/search.html?q=learning+rate")
    page.wait_for_selector("ul.search li p.context", timeout=60_000)
    page.wait_for_timeout(1000)
    snippets = page.eval_on_selector_all("ul.search li p.context", "ps => ps.map(p => p.innerText)")
    junk = [s[:120] for s in snippets if re.search(r"\\\(|\\\[|\$\$|\.pdf|\.ipynb\b", s)]
    assert snippets and not junk, f"search snippets with raw LaTeX or button text: {junk}"
    page.close()


def test_a_chinese_word_finds_the_terms_it_is_part_of(server, browser):
    """Searching 残差 (residual) finds the ResNet lesson, whose glossary term is 残差块."""
    page, _, _ = open_page(browser, f"{server}/search.html?q=%E6%AE%8B%E5%B7%AE")
    page.wait_for_selector("ul.search li", timeout=60_000)
    page.wait_for_timeout(1000)
    found = page.eval_on_selector_all("ul.search li a", "as => as.map(a => a.href)")
    assert any("04_cnn/resnet.html" in href for href in found), found[:5]
    page.close()


def test_figures_are_undimmed_white_cards_in_the_dark_theme(server, browser):
    """The dark theme shows a figure on a white card as drawn, not dimmed to grey by a filter."""
    page, _, _ = open_page(browser, f"{server}/notebooks/04_cnn/batch_norm.html")
    page.evaluate("() => document.documentElement.dataset.theme = 'dark'")
    page.wait_for_timeout(200)
    styles = page.eval_on_selector_all(
        "article div.cell_output img",
        "imgs => imgs.map(i => [getComputedStyle(i).filter, getComputedStyle(i).backgroundColor])")
    assert styles and all(s == ["none", "rgb(255, 255, 255)"] for s in styles), styles[:3]
    page.close()
