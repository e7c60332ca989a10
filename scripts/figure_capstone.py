"""Draw the capstone's project (book/capstone/capstone-flow.png) with matplotlib.

    PYTHONPATH=src python scripts/figure_capstone.py [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BOXES = [  # (x, y, title, detail, section of the notebook)
    (0.07, 0.78, "train + register", "MLflow run, model with\nsignature, @champion", "Exercise 1"),
    (0.29, 0.78, "lab server", "models:/capstone-churn\n@champion, /metrics", "section 3"),
    (0.51, 0.78, "client + app", "score(frame); Gradio:\na CSV in, table + plots", "Exercises 2-3"),
    (0.29, 0.24, "Prometheus", "scrapes PSI per feature,\nCapstoneFeatureDrift", "Exercise 4"),
    (0.51, 0.24, "Alertmanager", "groups, routes,\nresolved notices", "section 5"),
    (0.73, 0.24, "webhook", "records every\nnotification", "section 5"),
    (0.07, 0.24, "release gate", "judge on new labels,\nmove @champion, reload", "Exercise 6"),
    (0.73, 0.78, "CI workflow", "act: train + behavioural\ntests on every push", "Exercise 5"),
    (0.96, 0.24, "Space", "Docker Space: app +\nserver + champion,\npinned public pieces", "Exercise 7"),
]
ARROWS = [  # (from box, to box, label)
    (0, 1, "loads\n@champion"),
    (2, 1, "POST\n/predict"),
    (3, 1, "scrapes\nevery 1 s"),
    (3, 4, "alerts\nthat fire"),
    (4, 5, "notifies"),
    (6, 0, "retrain"),
    (6, 1, "POST /admin/reload"),
    (7, 8, "the tested\nproject, shipped"),
]


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(13, 4.6))
    ax.set_axis_off()
    ax.set(xlim=(-0.03, 1.06), ylim=(0, 1))
    w, h = 0.16, 0.26
    for x, y, title, detail, where in BOXES:
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                    facecolor="#eef3fb", edgecolor="#3465a4"))
        ax.text(x, y + 0.07, title, ha="center", va="center", fontsize=10.5, weight="bold")
        ax.text(x, y - 0.03, detail, ha="center", va="center", fontsize=8)
        ax.text(x, y - h / 2 - 0.045, where, ha="center", va="center", fontsize=8, color="#a40000", style="italic")
    for start, end, label in ARROWS:
        (x0, y0), (x1, y1) = BOXES[start][:2], BOXES[end][:2]
        if y0 == y1:  # side by side: from edge to edge
            sign = 1 if x1 > x0 else -1
            a, b = (x0 + sign * w / 2, y0), (x1 - sign * w / 2, y1)
            where = ((a[0] + b[0]) / 2, y0 + 0.1)
        elif x0 == x1:  # one above the other
            sign = 1 if y1 > y0 else -1
            a, b = (x0, y0 + sign * h / 2), (x1, y1 - sign * h / 2)
            where = (x0 + (-0.05 if x0 < 0.2 else 0.05), (a[1] + b[1]) / 2)
        else:  # diagonal: from the corner that faces the other box to the corner that faces back
            sx, sy = (1 if x1 > x0 else -1), (1 if y1 > y0 else -1)
            a = (x0 + sx * w / 2, y0 + sy * h / 2)
            b = (x1 - sx * w / 2, y1 - sy * h / 2)
            where = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
            if sy < 0:  # going down to the right: the label beside the arrow, not on it
                where = (where[0] + 0.075, where[1] + 0.05)
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.3})
        ax.text(*where, label, ha="center", va="center", fontsize=8, color="#333333",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "book" / "capstone" / "capstone-flow.png")
    args = parser.parse_args()
    draw(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
