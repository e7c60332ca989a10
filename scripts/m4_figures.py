"""Draw Module 4's figures as SVG files next to the chapters that show them.

Run `python scripts/m4_figures.py`; the SVGs are committed, so the book needs neither this script
nor a network (no diagram CDN). The drawing helpers are scripts/figures_m1_m3.py's.

- book/m4/ci_flow.svg: what happens on a push, from commit to challenger
- book/m4/dvc_pipeline.svg: the DVC pipeline of the DVC lab (labs/m4_dvc) (stages, deps, params, outs, metrics) and what
  git, the DVC cache and the DVC remote each hold
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from matplotlib.patches import FancyBboxPatch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers of figures_m1_m3, however this is run
from figures_m1_m3 import BLUE, BOOK, GREEN, GREY, ORANGE, PURPLE, arrow, box, canvas, plt, save  # noqa: E402

OUT = BOOK / "m4" / "ci_flow.svg"

STEPS = [  # (label, colour): the workflow's steps, then the one CI command's stages
    ("git push /\npull request", "#dfe7f2"),
    ("checkout,\nPython (pip\ncache), deps", "#dfe7f2"),
    ("dvc pull\n(data from\nthe remote)", "#dfe7f2"),
    ("dvc repro\nprepare → train\n→ evaluate", "#e4f1e1"),
    ("pytest: data\nschema and\nbehaviour", "#fbeed5"),
    ("quality gate\nvs champion.json", "#fbeed5"),
]


def _box(ax, x, y, w, h, text, colour):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#444", linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8)


def _arrow(ax, x0, y0, x1, y1, text=""):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="#333", lw=1.2))
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.08, text, ha="center", va="bottom", fontsize=8, color="#333")


def ci_flow() -> Path:
    fig, ax = plt.subplots(figsize=(12, 3.9))
    w, h, gap, y = 1.55, 0.9, 0.4, 1.6
    for i, (label, colour) in enumerate(STEPS):
        x = i * (w + gap)
        _box(ax, x, y, w, h, label, colour)
        if i:
            _arrow(ax, x - gap, y + h / 2, x, y + h / 2)
    gate_x = (len(STEPS) - 1) * (w + gap)
    _box(ax, gate_x + 1.0, 0.2, 1.5, 0.8, "register model\n@challenger\n+ job summary", "#e4f1e1")
    _box(ax, gate_x - 1.9, 0.2, 1.6, 0.8, "job fails:\nthe reasons in\nthe job summary", "#f6d5d5")
    _arrow(ax, gate_x + w * 0.75, y, gate_x + 1.6, 1.0, "passes")
    _arrow(ax, gate_x + w * 0.25, y, gate_x - 0.7, 1.0, "fails")
    _box(ax, gate_x + 3.0, 1.6, 1.35, 0.9, "promote\n(reviewed):\n@champion", "#dfe7f2")
    _arrow(ax, gate_x + 2.5, 0.6, gate_x + 3.3, 1.6, "a person /\nCD job")
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


def dvc_pipeline() -> Path:
    """The DVC pipeline the DVC lab builds (book/m4/dvc_pipeline.svg): stages, deps, params, outs, metrics;
    what git holds and what the DVC cache and remote hold."""
    fig, ax = canvas(11, 5.2, (0, 11), (0, 5.2))
    ax.text(0.1, 4.95, "dvc.yaml: three stages; DVC derives their order from deps and outs (dvc dag)",
            fontsize=10, color="#345")
    data = [("data/raw/\ncustomers.csv\n(dvc add)", 0.1), ("data/prepared/\ntrain.csv, test.csv", 3.75),
            ("models/\nmodel.pkl", 7.4)]
    for label, x in data:
        box(ax, x, 3.3, 1.5, 0.85, label, ORANGE, size=7)
    stages = [("prepare\npython src/prepare.py", 1.95, "params: prepare.*\n(test_size, seed)"),
              ("train\npython src/train.py", 5.6, "params: train.*\n(C, max_iter,\ndrop_features)")]
    for label, x, params in stages:
        box(ax, x, 3.3, 1.5, 0.85, label, GREEN, size=7)
        box(ax, x + 0.15, 4.35, 1.2, 0.5, params, PURPLE, size=6)
        arrow(ax, x + 0.75, 4.35, x + 0.75, 4.15)
        arrow(ax, x - 0.35, 3.72, x, 3.72)
        arrow(ax, x + 1.5, 3.72, x + 1.85, 3.72)
    box(ax, 9.25, 3.3, 1.6, 0.85, "evaluate\npython src/\nevaluate.py", GREEN, size=7)
    arrow(ax, 8.9, 3.72, 9.25, 3.72)
    ax.annotate("", xy=(9.6, 3.3), xytext=(5.0, 3.3),
                arrowprops=dict(arrowstyle="->", color="#777", lw=1.0, ls="--", connectionstyle="arc3,rad=0.18"))
    ax.text(6.9, 2.98, "test.csv", fontsize=7, color="#777")
    box(ax, 9.25, 2.15, 1.6, 0.7, "metrics/scores.json\nmetrics/roc.csv\n(metrics, plots)", PURPLE, size=6)
    arrow(ax, 10.05, 3.3, 10.05, 2.85)
    ax.text(0.1, 2.75, "deps also: each stage's script and src/features.py. dvc repro re-runs a stage when a dep or\n"
            "param changed since dvc.lock, and nothing else: run it twice, the second run does nothing", fontsize=7,
            color="#555", va="center")
    # the split: git for pointers and text, the DVC cache and remote for bytes
    box(ax, 0.1, 0.35, 4.4, 1.65, "", BLUE)
    ax.text(2.3, 1.75, "git and its remote (GitHub…): small text", ha="center", fontsize=8, fontweight="bold")
    ax.text(2.3, 1.1, "code: src/*.py, tests/   dvc.yaml   params.yaml\n"
            "dvc.lock (the hash of every dep, param and out)\n"
            "customers.csv.dvc (a pointer: MD5 + size)\nscores.json, roc.csv (cache: false)\n"
            "git clone gets all of this, and none of the data",
            ha="center", va="center", fontsize=7)
    box(ax, 5.6, 0.35, 2.3, 1.65, "DVC cache\n.dvc/cache (git-ignored)\n\nthe bytes of the data\nand model, by MD5",
        ORANGE, size=7)
    box(ax, 9.0, 0.35, 1.85, 1.65, "DVC remote\n(a folder in the lab;\nS3, GCS, SSH…)", GREY, size=7)
    arrow(ax, 4.5, 1.17, 5.6, 1.17, "names", size=7, offset=0.04)
    arrow(ax, 7.9, 1.35, 9.0, 1.35, "dvc push", size=7, offset=0.04)
    arrow(ax, 9.0, 0.85, 7.9, 0.85, "dvc pull", size=7, offset=-0.3)
    return save(fig, BOOK / "m4" / "dvc_pipeline.svg")


FIGURES = [ci_flow, dvc_pipeline]


def main() -> list[Path]:
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    return [draw() for draw in FIGURES]


if __name__ == "__main__":
    for path in main():
        print("wrote", path.relative_to(BOOK.parent))
