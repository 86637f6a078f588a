"""What the tests read from the book's configuration: the table of contents and the repository URL
(`_config.yml` is the one place that URL is written)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def toc_files() -> list[str]:
    """Every file named in `_toc.yml`, in book order, without its suffix (e.g. 'book/intro')."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            found.extend(node[key] for key in ("root", "file") if key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return found
