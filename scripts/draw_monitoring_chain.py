"""Draw the monitoring chain of Module 5 (book/m5/images/monitoring-chain.png) with matplotlib.

    PYTHONPATH=src python scripts/draw_monitoring_chain.py [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BOXES = [  # (x, y, title, detail)
    (0.11, 0.62, "lab server", "/metrics: counters,\ngauges, histograms"),
    (0.37, 0.62, "Prometheus", "scrapes, stores (TSDB),\nrecording + alerting rules"),
    (0.63, 0.62, "Alertmanager", "routes, groups,\nsilences, inhibits"),
    (0.89, 0.62, "webhook", "a receiver that records\nevery notification"),
    (0.37, 0.16, "dashboards", "query_range: Grafana,\nor matplotlib in a lab"),
]
ARROWS = [  # (from box, to box, label)
    (1, 0, "scrape every 15 s (labs: 1 s)"),
    (1, 2, "alerts that fire"),
    (2, 3, "notifications\n(firing, resolved)"),
    (4, 1, "PromQL"),
]


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9.5, 3.6))
    ax.set_axis_off()
    ax.set(xlim=(-0.01, 1.01), ylim=(0, 1))
    w, h = 0.21, 0.3
    for x, y, title, detail in BOXES:
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01",
                                    facecolor="#eef3fb", edgecolor="#3465a4"))
        ax.text(x, y + 0.07, title, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x, y - 0.05, detail, ha="center", va="center", fontsize=8)
    for start, end, label in ARROWS:
        (x0, y0), (x1, y1) = BOXES[start][:2], BOXES[end][:2]
        if y0 == y1:  # side by side: from edge to edge
            sign = 1 if x1 > x0 else -1
            a, b = (x0 + sign * w / 2, y0), (x1 - sign * w / 2, y1)
            where = ((a[0] + b[0]) / 2, y0 + 0.2)
        else:
            a, b = (x0, y0 + h / 2), (x1, y1 - h / 2)
            where = (x0 + 0.06, (a[1] + b[1]) / 2)
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "-|>", "color": "#333333", "lw": 1.4})
        ax.text(*where, label, ha="center", va="center", fontsize=8, color="#333333")
    ax.text(0.11, 0.2, "pull: Prometheus asks;\nthe server only counts", fontsize=8, ha="center", style="italic")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "book" / "m5" / "images" / "monitoring-chain.png")
    draw(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
