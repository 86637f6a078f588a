"""A Sphinx extension for this book: drop the Thebe scripts from every page.

The book is read without a kernel (launch buttons open Colab or Binder instead). Jupyter Book 1
loads sphinx-thebe anyway, which declares its settings twice (a JavaScript error on every page) and
names a CDN URL; removing its scripts keeps pages free of both.
"""


def drop_thebe(app, pagename, templatename, context, doctree):
    def is_thebe(script) -> bool:
        filename = getattr(script, "filename", None) or ""
        body = getattr(script, "attributes", {}).get("body", "") or ""
        return "thebe" in filename or "THEBE_JS_URL" in body

    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not is_thebe(s)]


def setup(app):
    app.connect("html-page-context", drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
