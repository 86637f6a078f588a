"""Renumber the figure links of lessons after a figure is added, moved or removed.

A lesson refers to its figures as `[Figure 2](#fig-<lesson>-<what>)`, numbered from 1 within the
page in the order of the cells whose metadata names a figure. This rewrites each link's number
to its target's place and reports plain "Figure k" text that is not a link (the book build
checks links only).

    python tools/number_figures.py notebooks/04_cnn/resnet.py [...]
"""
import re
import sys
from pathlib import Path

NAME = re.compile(r'"name":\s*"(fig-[\w-]+)"')
LINK = re.compile(r"\[Figure\s+\d+\]\(#(fig-[\w-]+)\)")
PLAIN = re.compile(r"(?<!\[)\bFigure\s+\d+\b(?!\]\(#)")


def renumber(path: Path) -> list[str]:
    """Rewrite `path`'s figure links in place; return the problems left for a person."""
    text = path.read_text()
    order = [NAME.search(line).group(1) for line in text.splitlines()
             if line.startswith("# %%") and '"figure"' in line and NAME.search(line)]
    number = {name: k for k, name in enumerate(order, start=1)}
    problems = [f"{path}: link to {m.group(1)}, which no figure cell names"
                for m in LINK.finditer(text) if m.group(1) not in number]
    text = LINK.sub(lambda m: f"[Figure {number.get(m.group(1), '?')}](#{m.group(1)})", text)
    problems += [f"{path}: plain '{m.group(0)}' is not a link"
                 for line in text.splitlines() if not line.startswith("# %%")
                 for m in PLAIN.finditer(line)]
    path.write_text(text)
    return problems


if __name__ == "__main__":
    found = [p for arg in sys.argv[1:] for p in renumber(Path(arg))]
    print("\n".join(found) or "figure links numbered")
    sys.exit(1 if found else 0)
