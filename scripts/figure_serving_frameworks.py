"""Draw book/m6/serving_frameworks.svg from the results scripts/bench_serving.py wrote with --json.

    python scripts/bench_serving.py ... --json book/m6/serving_frameworks.json
    python scripts/figure_serving_frameworks.py [book/m6/serving_frameworks.json]

Two panels: records per second with one and with a batch of records per request, and the latency
percentiles of single-record requests, one bar group per server. The SVG is committed with its JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BOOK_M6 = Path(__file__).resolve().parents[1] / "book" / "m6"
NAMES = {"lab": "lab server", "mlflow": "mlflow models serve", "bentoml": "BentoML", "mlserver": "MLServer",
         "floor": "bare FastAPI floor"}
plt.rcParams["svg.hashsalt"] = "opslab"  # stable ids: re-running the script changes no byte
plt.rcParams["svg.fonttype"] = "path"  # text as paths: the same look with no font on the reader's side


def draw(results: dict, out: Path) -> None:
    servers = list(dict.fromkeys(k.rsplit("-", 1)[0] for k in results))
    sizes = sorted({int(k.rsplit("-", 1)[1]) for k in results})
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / len(sizes)
    for i, size in enumerate(sizes):
        values = [results[f"{s}-{size}"]["rps"] * size for s in servers]
        left.bar([k + i * width for k in range(len(servers))], values, width,
                 label=f"{size} record{'s' if size > 1 else ''} per request")
    left.set_yscale("log")
    left.set_ylabel("records per second (log scale)")
    left.set_title("Throughput: more is better")
    width = 0.8 / 3
    for i, q in enumerate(("p50", "p90", "p99")):
        values = [results[f"{s}-1"][f"{q}_ms"] for s in servers]
        right.bar([k + i * width for k in range(len(servers))], values, width, label=q)
    right.set_ylabel("milliseconds")
    right.set_title("Single-record latency: less is better")
    for ax, n in ((left, len(sizes)), (right, 3)):
        ax.set_xticks([k + 0.4 - 0.4 / n for k in range(len(servers))], [NAMES.get(s, s) for s in servers],
                      fontsize=8)
        ax.legend(fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else BOOK_M6 / "serving_frameworks.json"
    draw(json.loads(source.read_text()), BOOK_M6 / "serving_frameworks.svg")
    print(f"wrote {BOOK_M6 / 'serving_frameworks.svg'}")
