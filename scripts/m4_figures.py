"""Draw Module 4's figure: what happens on a push, from commit to challenger (book/m4/ci_flow.svg).

Run `python scripts/m4_figures.py`; the SVG is committed, so the book needs neither this script
nor a network (no diagram CDN).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "book" / "m4" / "ci_flow.svg"

STEPS = [  # (label, colour): the workflow's steps, then the one CI command's stages
    ("git push /\npull request", "#dfe7f2"),
    ("checkout,\nPython (pip\ncache), deps", "#dfe7f2"),
    ("dvc pull\n(data from\nthe remote)", "#dfe7f2"),
    ("dvc repro\nprepare → train\n→ evaluate", "#e4f1e1"),
    ("pytest: data\nschema and\nbehaviour", "#fbeed5"),
    ("quality gate\nvs champion.json", "#fbeed5"),
]


def box(ax, x, y, w, h, text, colour):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#444", linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)


def arrow(ax, x0, y0, x1, y1, text=""):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="#333", lw=1.2))
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.08, text, ha="center", va="bottom", fontsize=8, color="#333")


def main() -> Path:
    fig, ax = plt.subplots(figsize=(12, 3.9))
    w, h, gap, y = 1.55, 0.9, 0.4, 1.6
    for i, (label, colour) in enumerate(STEPS):
        x = i * (w + gap)
        box(ax, x, y, w, h, label, colour)
        if i:
            arrow(ax, x - gap, y + h / 2, x, y + h / 2)
    gate_x = (len(STEPS) - 1) * (w + gap)
    box(ax, gate_x + 1.0, 0.2, 1.5, 0.8, "register model\n@challenger\n+ job summary", "#e4f1e1")
    box(ax, gate_x - 1.9, 0.2, 1.6, 0.8, "job fails:\nthe reasons in\nthe job summary", "#f6d5d5")
    arrow(ax, gate_x + w * 0.75, y, gate_x + 1.6, 1.0, "passes")
    arrow(ax, gate_x + w * 0.25, y, gate_x - 0.7, 1.0, "fails")
    box(ax, gate_x + 3.0, 1.6, 1.35, 0.9, "promote\n(reviewed):\n@champion", "#dfe7f2")
    arrow(ax, gate_x + 2.5, 0.6, gate_x + 3.3, 1.6, "a person /\nCD job")
    ax.text(0, 2.62, "① the workflow (.github/workflows/train.yml) prepares a machine", fontsize=9, color="#345")
    ax.text(3 * (w + gap), 2.92, "② the one CI command (python ci/run.py): the same in act, Jenkins, make ci",
            fontsize=9, color="#354")
    ax.text(gate_x - 1.9, 0.02, "the MLflow store and reports are uploaded as an artifact either way",
            fontsize=8, color="#555")
    ax.set_xlim(-0.1, gate_x + 4.5)
    ax.set_ylim(-0.1, 3.15)
    ax.axis("off")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print("wrote", main())
