"""The whole book as one PDF (what `make pdf` runs): `_build/pdf/d2lite.pdf`.

Jupyter Book writes every page into one HTML file (`--builder singlehtml`), which the Chromium the
browser check uses prints, offline: the same math (MathJax), figures and widgets as the HTML book,
with a table of contents (the book's contents at the start, and PDF bookmarks), page numbers, each
lesson on a new page, every frame slider as the still frame it opens on (its settings written
under it) and the exercises' solutions open.

    python tools/pdf.py             # build the single page, then print it
    python tools/pdf.py --no-build  # print the single page built before
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "pdf" / "d2lite.pdf"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Print layout: the text column alone, full width; a lesson (a top-level section) starts a page;
# a figure, equation or code block is not split across pages when it fits on one.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-content,
.bd-header-article, .header-article-items, .prev-next-area, .footer-article-items,
.headerlink, .toggle-button, button.copybtn, .theme-switch-button, .search-button,
.d2lite-colab, #pst-back-to-top, .skip-link { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width {
  max-width: none !important; width: 100% !important; margin: 0 !important;
  padding: 0 !important; }
body { font-size: 10.5pt; }
span[id^="document-"] + section { break-before: page; }  /* each page of the book */
figure, div.math, div.cell_input, div.cell_output, .d2lite-widget, table { break-inside: avoid; }
div.cell_input pre, div.cell_output pre { white-space: pre-wrap; overflow: visible !important; }
.d2lite-widget input[type="range"] { display: none; }
.d2lite-widget label { font-size: 9pt !important; }
details > summary { list-style: none; font-weight: bold; }
img { max-width: 100% !important; }
"""

# Open every collapsed solution (a static widget keeps the frame it shows and prints its
# settings); shrink each equation wider than the page until it fits, since paper cannot scroll.
# Returns the equations that still do not fit.
PREPARE_JS = """() => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  document.documentElement.dataset.theme = 'light';
  const wide = () => Array.from(document.querySelectorAll('div.math mjx-container'))
                          .filter(c => c.scrollWidth > c.clientWidth + 1);
  for (const c of wide()) {
    const size = parseFloat(getComputedStyle(c).fontSize);
    c.style.fontSize = (size * 0.97 * c.clientWidth / c.scrollWidth) + 'px';
  }
  return wide().map(c => c.textContent.slice(0, 60));
}"""
TEXT_WIDTH = 688  # CSS pixels between the margins of an A4 page (182 mm at 96 px per inch)

FOOTER = ('<div style="font: 8px sans-serif; width: 100%; text-align: center; color: #555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def build_single_page() -> Path:
    """Run Jupyter Book's single-page build; return the page, copied to the build's root so
    that its links to `_static/` and `_images/` resolve (Sphinx writes it one folder down)."""
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
                    "--builder", "singlehtml", "--quiet"], check=True, cwd=ROOT)
    return copy_to_root()


def copy_to_root() -> Path:
    index = SINGLE / "index.html"  # a redirect to the page: <meta ... url=book/intro.html" />
    found = re.search(r'url=([^"]+)"', index.read_text()) if index.exists() else None
    if not found:
        raise SystemExit(f"tools/pdf.py: no single-page build in {SINGLE}; run it without "
                         "--no-build")
    page = SINGLE / "book.html"
    shutil.copyfile(SINGLE / found[1], page)
    return page


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def print_pdf(page: Path, out: Path = PDF) -> Path:
    """Serve the single page locally, let MathJax typeset it, and print it with Chromium."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"tools/pdf.py: Chromium not found at {CHROMIUM} (Debian: apt-get "
                         "install chromium; or set $CHROMIUM)")
    handler = functools.partial(_Quiet, directory=str(page.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-gpu"])
            view = browser.new_page(viewport={"width": TEXT_WIDTH, "height": 1000})
            view.route("**/*", lambda route: route.abort()
                       if not route.request.url.startswith("http://127.0.0.1")
                       else route.continue_())  # offline: nothing leaves this machine
            view.goto(f"http://127.0.0.1:{server.server_address[1]}/{page.name}",
                      wait_until="load", timeout=300_000)
            view.wait_for_function("() => window.MathJax && MathJax.startup && "
                                   "MathJax.startup.promise.then(() => true)",
                                   timeout=600_000)
            view.emulate_media(media="print")
            view.add_style_tag(content=PRINT_CSS)
            too_wide = view.evaluate(PREPARE_JS)
            if too_wide:
                raise SystemExit(f"tools/pdf.py: equations wider than the page: {too_wide}")
            view.pdf(path=str(out), format="A4", print_background=True, outline=True,
                     tagged=True, display_header_footer=True, header_template="<span></span>",
                     footer_template=FOOTER, margin={"top": "16mm", "bottom": "18mm",
                                                     "left": "14mm", "right": "14mm"})
            browser.close()
    finally:
        server.shutdown()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true",
                        help="print the single page built before")
    args = parser.parse_args(argv)
    page = copy_to_root() if args.no_build else build_single_page()
    out = print_pdf(page)
    print(f"The book is at {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
