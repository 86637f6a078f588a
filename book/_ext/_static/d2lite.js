// The sidebar buttons. pydata-sphinx-theme 0.17 binds its "open the drawer" handler to the first
// .primary-toggle / .secondary-toggle on the page, which sphinx-book-theme 1.3 hides; the visible
// buttons in the article header did nothing. Each later copy now clicks the first one.
document.addEventListener("DOMContentLoaded", function () {
  [".primary-toggle", ".secondary-toggle"].forEach(function (selector) {
    var buttons = document.querySelectorAll(selector);
    for (var i = 1; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        event.preventDefault();
        event.stopImmediatePropagation();
        buttons[0].click();
      });
    }
  });
});

// Search snippets: Sphinx shows the text of the page's [role=main], which here also holds the
// article's header buttons (".ipynb .pdf"), the page's contents list, raw LaTeX and cell outputs.
// Leave those out, so a snippet is the prose around the hit.
document.addEventListener("DOMContentLoaded", function () {
  // searchtools.js declares `const Search`: a global binding, not a property of window
  if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.d2lite) return;
  var original = Search.htmlToText;
  var noise = [".bd-header-article", ".bd-sidebar-secondary", ".d2lite-colab", ".math",
               ".headerlink", ".section-number", "nav", ".toctree-wrapper",
               "mjx-container", ".cell_output", ".d2lite-widget", ".caption-number",
               ".prev-next-area", "footer"].join(",");
  Search.htmlToText = function (htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    doc.querySelectorAll(noise).forEach(function (el) { el.remove(); });
    var text = original(doc.documentElement.outerHTML, anchor);
    return text.replace(/\s+/g, " ");
  };
  Search.htmlToText.d2lite = true;
});

// On a phone the contents are drawers (<dialog>s). Tapping a link in one goes to a place on this
// page or another page; close the drawer so that the reader sees where the link went, instead of
// a drawer still covering most of the screen.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("dialog a[href]");
  var drawer = link && link.closest("dialog");
  if (drawer && drawer.open) drawer.close();
});
