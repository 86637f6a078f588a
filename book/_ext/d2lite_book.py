"""A Sphinx extension for the book as readers meet it: numbers, links, Colab, phones.

- Lessons are numbered "<chapter>.<lesson>" (the chapter from the leading number of the part's
  caption in `_toc.yml`, e.g. "2 Linear neural networks"), their sections "2.1.1"; figures are
  numbered from 1 within each page ("Figure 2"), so the caption matches what the lesson's prose
  says: `[Figure 2](#fig-<lesson>-<what>)`.
- A Markdown link to a glossary term, `[normal equations](../../book/glossary.md#term-normal-
  equations)`, renders the same in JupyterLab and Colab and resolves here: the glossary's term ids
  are registered with MyST like heading anchors, so a link to a term that does not exist still fails
  the `-W` build ("local id not found").
- Every lesson page shows an "Open in Colab" link under its title; the glossary an A-Z line.
- `_static/d2lite.css` keeps pages from scrolling sideways on a phone; `_static/d2lite.js` makes the
  theme's sidebar buttons work (pydata-sphinx-theme 0.17 binds them to a hidden copy).
- Search snippets come from the prose: math and code are left out of the index's text; a Chinese
  word finds the longer Chinese terms it is part of ("残差" finds "残差块").
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "_static"
CHAPTER = re.compile(r"\s*(\d+)\s")


# ---- glossary terms as MyST link targets

def register_glossary_terms(app, doctree) -> None:
    """Let `[text](glossary.md#term-foo)` resolve: MyST looks ids up in the page's heading slugs.

    Sphinx keeps a term's case in its id ("term-KL-divergence"); lessons write it lower-cased
    ("#term-kl-divergence"), which resolves to the same anchor."""
    terms = {alias: (0, i, term.astext()) for term in doctree.findall(nodes.term)
             for i in term["ids"] if i.startswith("term-") for alias in (i, i.lower())}
    if terms:
        meta = app.env.metadata[app.env.docname]
        meta["myst_slugs"] = {**meta.get("myst_slugs", {}), **terms}


def add_glossary_jump_list(app, doctree, docname) -> None:
    """Put an A-Z line above each sorted glossary: a letter links to the first term it begins
    (the glossary is tens of thousands of pixels tall on a phone)."""
    for glossary in list(doctree.findall(addnodes.glossary)):
        first: dict[str, str] = {}
        for term in glossary.findall(nodes.term):
            letter = term.astext()[:1].upper()
            if term["ids"]:
                first.setdefault(letter if letter.isalpha() else "#", term["ids"][0])
        if len(first) < 2:
            continue
        line = nodes.paragraph(classes=["d2lite-jump"])
        for i, (letter, anchor) in enumerate(first.items()):
            if i:
                line += nodes.Text(" ")
            line += nodes.reference("", letter, refid=anchor, internal=True)
        glossary.parent.insert(glossary.parent.index(glossary), line)


# ---- numbers: chapter.lesson for lessons, per-page figures

def chapter_numbers(env) -> dict[str, int]:
    """{docname: chapter} for documents in a numbered part whose caption starts with a number."""
    found = {}
    root = env.config.root_doc
    if root not in env.all_docs:
        return found
    for toctree in env.get_doctree(root).findall(addnodes.toctree):
        match = CHAPTER.match(toctree.get("caption") or "")
        if match and toctree.get("numbered"):
            found.update({doc: int(match[1]) for _, doc in toctree["entries"]})
    return found


def renumber(app, env) -> list[str]:
    """After Sphinx numbers sections and figures (same event, earlier), prefix each lesson's
    section numbers with its chapter and restart figure numbers at 1 on every page."""
    for docname, chapter in chapter_numbers(env).items():
        secnums = env.toc_secnumbers.get(docname, {})
        if len(secnums.get("", ())) != 1:  # unnumbered, or already prefixed on this pass
            continue
        for anchor, number in secnums.items():
            if number:
                secnums[anchor] = (chapter, *number)
        for ref in env.tocs[docname].findall(nodes.reference):
            if ref.get("secnumber"):
                ref["secnumber"] = [chapter, *ref["secnumber"]]
        if env.titles[docname].get("secnumber"):
            env.titles[docname]["secnumber"] = [chapter, *env.titles[docname]["secnumber"]]
    for fignumbers in env.toc_fignumbers.values():
        for figtype, numbers in fignumbers.items():
            in_order = sorted(numbers, key=lambda i: numbers[i])  # Sphinx numbers in page order
            fignumbers[figtype] = {i: (k,) for k, i in enumerate(in_order, 1)}
    return []


FIGURE_TEXT = re.compile(r"\bFigure\s+(\d+(?:\.\d+)*)\b")


def check_figure_links(app, doctree, docname) -> None:
    """A link such as `[Figure 2](#fig-name)` must name the number its target's caption shows."""
    numbers = app.env.toc_fignumbers.get(docname, {}).get("figure", {})
    for ref in doctree.findall(nodes.reference):
        target = ref.get("refid") or (ref.get("refuri") or "").partition("#")[2]
        said = FIGURE_TEXT.search(ref.astext())
        if not said or not target.startswith("fig-"):
            continue
        shown = ".".join(map(str, numbers.get(target, ()))) or "no number"
        if said[1] != shown:
            logger.warning(f"the link {ref.astext()!r} goes to {target!r}, which is Figure {shown}",
                           location=ref, type="d2lite", subtype="figure_number")


# ---- Chinese search: a word finds the longer terms it is part of

CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


def cjk_parts(term: str) -> set[str]:
    """Every run of two or more Chinese characters inside `term`, shorter than the term itself:
    "残差块" -> {"残差", "差块"}; the search finds "残差块" from either."""
    parts = set()
    for run in CJK_RUN.findall(term):
        parts |= {run[i:j] for i in range(len(run)) for j in range(i + 2, len(run) + 1)}
    return parts - {term}


def index_chinese_parts(app, exception) -> None:
    """Sphinx indexes "残差块" as one word, and its search matches only whole words (partial
    matches start at three characters), so "残差" missed the ResNet lesson. Add each Chinese part
    of a term to the index, pointing to the term's pages."""
    path = Path(app.outdir) / "searchindex.js"
    if exception is not None or not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    prefix, body = text[:text.index("(") + 1], text[text.index("(") + 1:text.rindex(")")]
    index = json.loads(body)
    for key in ("terms", "titleterms"):
        table = index[key]
        for term, docs in list(table.items()):
            for part in cjk_parts(term):
                merged = set(_as_list(table.get(part, []))) | set(_as_list(docs))
                table[part] = sorted(merged)
    path.write_text(prefix + json.dumps(index, ensure_ascii=False, separators=(",", ":"))
                    + text[text.rindex(")"):], encoding="utf-8")


def _as_list(docs) -> list[int]:
    return docs if isinstance(docs, list) else [docs]


# ---- Colab link, static files, search index

def colab_url(app, docname: str) -> str | None:
    """The Colab address of a notebook page, from `_config.yml`'s repository settings."""
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return None
    options = app.config.html_theme_options
    repo = (options.get("repository_url") or "").removesuffix("/").removesuffix(".git")
    if not repo.startswith("https://github.com/"):
        return None
    branch = options.get("repository_branch") or "main"
    path = (options.get("path_to_docs") or "").strip("/")
    source = "/".join(p for p in (path, docname + ".ipynb") if p)
    return (f"https://colab.research.google.com/github/{repo.removeprefix('https://github.com/')}"
            f"/blob/{branch}/{source}")


def add_colab_link(app, pagename, templatename, context, doctree) -> None:
    url = colab_url(app, pagename) if doctree is not None else None
    body = context.get("body", "")
    if url and "</h1>" in body:
        link = (f'<p class="d2lite-colab"><a class="reference external" href="{html.escape(url)}">'
                '<i class="fa-solid fa-rocket"></i> Open in Colab</a>'
                '<span> · runs this notebook on a free GPU</span></p>')
        context["body"] = body.replace("</h1>", "</h1>\n" + link, 1)


def add_static(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", add_static)
    app.add_css_file("d2lite.css")
    app.add_js_file("d2lite.js")
    app.connect("doctree-read", register_glossary_terms)
    app.connect("env-get-updated", renumber, priority=900)
    app.connect("doctree-resolved", check_figure_links)
    app.connect("doctree-resolved", add_glossary_jump_list)
    app.connect("html-page-context", add_colab_link)
    app.connect("build-finished", index_chinese_parts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
