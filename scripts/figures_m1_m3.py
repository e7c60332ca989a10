"""Draw the diagrams of Modules 1-3's chapters as SVG files next to the chapters that show them.

Run `python scripts/figures_m1_m3.py`; the SVGs are committed, so the book needs neither this script
nor a network (no diagram CDN). Same drawing style as scripts/m4_figures.py.

- book/m1/ml_vs_software.svg: what defines the behaviour of a software pipeline and of an ML pipeline
- book/m1/lifecycle.svg: the four phases of a model's life, and the loop back
- book/m2/tracking_server.svg: clients, the MLflow tracking server and its two stores
- book/m2/registry_flow.svg: runs → registered model versions → aliases; promotion and rollback
- book/m3/deployment_paths.svg: one registered model, four ways to put it to use
- book/m3/serving_architecture.svg: client → lab server → model, prediction log, metrics
- book/m3/batch_vs_online.svg: online serving (a request, an answer in ms) beside batch scoring (a nightly job)
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

BOOK = Path(__file__).resolve().parents[1] / "book"
BLUE, GREEN, ORANGE, RED, GREY, PURPLE = "#dfe7f2", "#e4f1e1", "#fbeed5", "#f6d5d5", "#eeeeee", "#ece3f3"
plt.rcParams["svg.hashsalt"] = "opslab"  # stable ids: re-running the script changes no byte
plt.rcParams["svg.fonttype"] = "path"  # text as paths: the same look with no font on the reader's side


def box(ax, x, y, w, h, text, colour, size=8, bold=False):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#444", linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size,
            fontweight="bold" if bold else "normal")


def arrow(ax, x0, y0, x1, y1, text="", style="->", colour="#333", offset=0.08, size=8, ha="center", rad=0.0):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops=dict(arrowstyle=style, color=colour, lw=1.2, connectionstyle=f"arc3,rad={rad}"))
    if text:
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + offset, text, ha=ha, va="bottom", fontsize=size, color=colour)


def canvas(width: float, height: float, xlim: tuple[float, float], ylim: tuple[float, float]):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    return fig, ax


def save(fig, path: Path) -> Path:
    fig.tight_layout(pad=0.2)
    fig.savefig(path, format="svg", metadata={"Date": None})
    if os.environ.get("FIGURES_PREVIEW"):  # a PNG beside a preview folder, to look at while drawing
        fig.savefig(Path(os.environ["FIGURES_PREVIEW"]) / (path.stem + ".png"), dpi=80)
    plt.close(fig)
    return path


def ml_vs_software() -> Path:
    fig, ax = canvas(11, 3.4, (0, 11), (0, 3.4))
    ax.text(0.1, 3.1, "software pipeline: the behaviour is the code", fontsize=10, color="#345")
    box(ax, 0.2, 2.0, 1.8, 0.8, "code\n(a hand-written rule)", BLUE)
    box(ax, 3.2, 2.0, 1.8, 0.8, "program", GREY)
    box(ax, 6.2, 2.0, 1.8, 0.8, "behaviour", GREEN)
    arrow(ax, 2.0, 2.4, 3.2, 2.4, "build")
    arrow(ax, 5.0, 2.4, 6.2, 2.4)
    ax.text(8.2, 2.4, "git versions everything\nthat matters", fontsize=8, va="center", color="#555")
    ax.text(0.1, 1.55, "ML pipeline: the behaviour is learned", fontsize=10, color="#345")
    for i, (label, colour) in enumerate([("code", BLUE), ("data", ORANGE), ("parameters", ORANGE), ("seed", ORANGE)]):
        box(ax, 0.2 + i * 0.75, 0.35, 0.7, 0.8, label, colour, size=7)
    box(ax, 3.2, 0.35, 1.8, 0.8, "training", GREY)
    box(ax, 6.2, 0.35, 1.8, 0.8, "model = behaviour", GREEN)
    arrow(ax, 3.15, 0.75, 3.2, 0.75)
    arrow(ax, 5.0, 0.75, 6.2, 0.75, "fit")
    ax.text(8.2, 0.75, "git sees only the code: version the\ndata, parameters and seed with the model\n"
            "(a fingerprint, a run record: Module 2)", fontsize=8, va="center", color="#555")
    return save(fig, BOOK / "m1" / "ml_vs_software.svg")


def lifecycle() -> Path:
    fig, ax = canvas(11, 3.2, (0, 11), (0, 3.2))
    phases = [("Development", "data, features,\ntraining code, runs", BLUE),
              ("Validation", "cross-validation,\nbaseline, test set once", ORANGE),
              ("Deployment", "a versioned model\nbehind a contract", GREEN),
              ("Monitoring", "inputs, outputs,\naccuracy when labels arrive", PURPLE)]
    w, gap, y = 2.2, 0.6, 1.5
    for i, (name, what, colour) in enumerate(phases):
        x = 0.2 + i * (w + gap)
        box(ax, x, y, w, 1.2, f"{name}\n\n{what}", colour)
        if i:
            arrow(ax, x - gap, y + 0.6, x, y + 0.6)
    last = 0.2 + 3 * (w + gap)
    ax.annotate("", xy=(0.2 + w / 2, y), xytext=(last + w / 2, y),
                arrowprops=dict(arrowstyle="->", color="#a33", lw=1.4, connectionstyle="arc3,rad=-0.25"))
    ax.text(5.5, 0.25, "drift, decay, new data, a new idea: retrain, re-validate, deploy a new version",
            ha="center", fontsize=9, color="#a33")
    ax.text(0.2, 2.95, "Module 1, Module 2", fontsize=8, color="#555")
    ax.text(0.2 + 2 * (w + gap), 2.95, "Modules 3-4", fontsize=8, color="#555")
    ax.text(last, 2.95, "Module 5", fontsize=8, color="#555")
    return save(fig, BOOK / "m1" / "lifecycle.svg")


def tracking_server() -> Path:
    fig, ax = canvas(11, 3.6, (0, 11), (0, 3.6))
    clients = ["a notebook\n(mlflow.log_*)", "a CI job\n(python ci/run.py)", "a model server\n(models:/…@champion)"]
    for i, client in enumerate(clients):
        box(ax, 0.2, 2.5 - i * 1.1, 2.2, 0.85, client, BLUE)
        arrow(ax, 2.4, 2.92 - i * 1.1, 4.0, 1.8, "HTTP" if i == 0 else "")
    box(ax, 4.0, 1.0, 2.6, 1.6, "MLflow tracking server\n(mlflow server)\n\nthe UI, the REST API,\nthe model registry",
        GREEN)
    box(ax, 7.8, 2.2, 3.0, 1.1,
        "backend store (SQL: SQLite here)\nexperiments, runs, params,\nmetrics, tags, registry", ORANGE)
    box(ax, 7.8, 0.4, 3.0, 1.1,
        "artifact store (a folder here;\nS3, GCS… elsewhere)\nplots, models, data summaries", ORANGE)
    arrow(ax, 6.6, 2.1, 7.8, 2.7)
    arrow(ax, 6.6, 1.5, 7.8, 0.95)
    ax.text(4.0, 0.55, "opslab.mlflow_server starts it on\n127.0.0.1 and a free port", fontsize=8, color="#555")
    return save(fig, BOOK / "m2" / "tracking_server.svg")


def registry_flow() -> Path:
    fig, ax = canvas(11, 4.0, (0, 11), (0, 4.0))
    ax.text(0.2, 3.7, "runs (tracking)", fontsize=10, color="#345")
    ax.text(4.1, 3.7, "registered model: churn-classifier", fontsize=10, color="#345")
    ax.text(8.4, 3.7, "aliases (movable)", fontsize=10, color="#345")
    runs = ["run a1f… AUC 0.81", "run 7c2… AUC 0.83", "run e90… AUC 0.84"]
    for i, run in enumerate(runs):
        y = 2.8 - i * 1.1
        box(ax, 0.2, y, 2.6, 0.7, f"{run}\nparams, metrics, model", BLUE, size=7)
        box(ax, 4.3, y, 2.2, 0.7, f"version {i + 1}", GREEN)
        arrow(ax, 2.8, y + 0.35, 4.3, y + 0.35, "register_model" if i == 0 else "", size=7)
    box(ax, 8.6, 1.7, 2.0, 0.7, "@champion", ORANGE, bold=True)
    box(ax, 8.6, 0.6, 2.0, 0.7, "@challenger", PURPLE, bold=True)
    arrow(ax, 8.6, 2.05, 6.5, 2.05, "points at", colour="#a60", size=7)  # champion -> v2
    arrow(ax, 8.6, 0.95, 6.5, 0.95, "points at", colour="#639", size=7)  # challenger -> v3
    ax.annotate("", xy=(6.55, 3.1), xytext=(8.7, 2.4),
                arrowprops=dict(arrowstyle="->", color="#a33", lw=1.1, ls="--", connectionstyle="arc3,rad=0.2"))
    ax.text(7.5, 3.05, "rollback: move @champion\nback to version 1", fontsize=7, color="#a33", ha="left")
    ax.annotate("", xy=(7.9, 1.95), xytext=(7.9, 1.15),
                arrowprops=dict(arrowstyle="->", color="#363", lw=1.1, ls="--"))
    ax.text(6.65, 1.4, "promote: @champion\nmoves to version 3", fontsize=7, color="#363")
    ax.text(0.2, 0.1, "Deployments load models:/churn-classifier@champion and never need a version number; "
            "promoting or rolling back moves a pointer, nothing is retrained.", fontsize=8, color="#555")
    return save(fig, BOOK / "m2" / "registry_flow.svg")


def deployment_paths() -> Path:
    fig, ax = canvas(11, 4.0, (0, 11), (-0.3, 3.8))
    box(ax, 0.2, 1.45, 2.2, 1.0, "model registry\nchurn-classifier\n@champion", GREEN)
    paths = [("REST API (FastAPI)\nLab 3.1, the lab server", "programs: a website,\na CRM, another service", BLUE),
             ("app (Gradio, Streamlit)\ncalling the API: Labs 3.2, 3.4", "people: upload a CSV,\nfill in a form",
              ORANGE),
             ("edge export (ONNX)\nLab 3.3", "a device, a browser:\nno network, ms latency", PURPLE),
             ("batch scoring job\nLab 3.1 (section 8)", "a table of scores\nevery night", GREY)]
    for i, (how, who, colour) in enumerate(paths):
        y = 2.95 - i * 0.92
        box(ax, 3.6, y, 3.2, 0.75, how, colour)
        box(ax, 7.9, y, 2.9, 0.75, who, "#ffffff")
        arrow(ax, 2.4, 1.95, 3.6, y + 0.37)
        arrow(ax, 6.8, y + 0.37, 7.9, y + 0.37)
    ax.text(0.2, -0.2, "Where each runs (a managed cloud endpoint, your own servers, a Space, a device) is a "
            "separate choice.", fontsize=8, color="#555")
    return save(fig, BOOK / "m3" / "deployment_paths.svg")


def serving_architecture() -> Path:
    fig, ax = canvas(11, 4.4, (0, 11), (0, 4.4))
    box(ax, 0.2, 2.9, 1.9, 0.9, "client\n(requests, curl,\nthe demo, the app)", BLUE)
    box(ax, 0.2, 0.5, 1.9, 0.9, "Prometheus\n(scrapes every\nfew seconds)", PURPLE)
    ax.add_patch(FancyBboxPatch((3.0, 0.35), 4.2, 3.7, boxstyle="round,pad=0.02,rounding_size=0.1",
                                facecolor="#fafafa", edgecolor="#444", linewidth=1, ls="--"))
    ax.text(3.15, 3.8, "lab server (FastAPI under uvicorn: opslab serve)", fontsize=9, color="#345")
    box(ax, 3.2, 2.75, 1.8, 0.8, "schema: 4xx that\nnames the field", ORANGE, size=7)
    box(ax, 5.2, 2.75, 1.8, 0.8, "predict\n(in a thread pool)", GREEN, size=7)
    box(ax, 3.2, 1.6, 1.8, 0.8, "/health, /ready,\n/model", GREY, size=7)
    box(ax, 5.2, 1.6, 1.8, 0.8, "/feedback,\n/admin/reload", GREY, size=7)
    box(ax, 3.2, 0.5, 3.8, 0.8, "/metrics: requests, latency, classes,\ninput statistics, drift, feedback",
        PURPLE, size=7)
    arrow(ax, 2.1, 3.45, 3.2, 3.45)
    ax.text(2.15, 3.52, "POST /predict", fontsize=7, color="#333")
    arrow(ax, 3.2, 2.95, 2.1, 2.95, colour="#a33")
    ax.text(0.2, 2.35, "the answer: a 4xx naming the field,\nor id, class, probability, version",
            fontsize=7, color="#a33")
    arrow(ax, 5.0, 3.15, 5.2, 3.15)
    arrow(ax, 2.1, 0.9, 3.2, 0.9, "GET /metrics", size=7)
    box(ax, 8.2, 2.9, 2.6, 0.9, "model: models:/churn-\nclassifier@champion\n(MLflow registry or ONNX)", GREEN, size=7)
    box(ax, 8.2, 1.5, 2.6, 0.9, "prediction log (SQLite)\ninputs, outputs, version,\nfeedback: committed first",
        ORANGE, size=7)
    arrow(ax, 8.2, 3.35, 7.0, 3.2, "loaded at start,\nswapped on reload", size=7, offset=0.05)
    arrow(ax, 7.0, 2.9, 8.2, 2.0, "every answer", size=7, offset=-0.25)
    arrow(ax, 8.2, 1.75, 7.0, 1.95, "", colour="#777")
    ax.text(8.2, 0.6, "Module 5 reads the log and\n/metrics to watch the model", fontsize=8, color="#555")
    return save(fig, BOOK / "m3" / "serving_architecture.svg")


def batch_vs_online() -> Path:
    fig, ax = canvas(11, 4.6, (0, 11), (0, 4.6))
    ax.text(0.1, 4.3, "online serving: one record per request, the answer while the caller waits", fontsize=10,
            color="#345")
    box(ax, 0.2, 3.0, 2.0, 0.9, "caller\n(website, CRM,\nanother service)", BLUE)
    box(ax, 3.4, 3.0, 2.4, 0.9, "API (lab server)\nschema: 4xx naming\nthe field", GREEN)
    box(ax, 7.0, 3.0, 1.9, 0.9, "model, loaded once\n(@champion)", GREEN, size=7)
    arrow(ax, 2.2, 3.6, 3.4, 3.6, "POST /predict", size=7, offset=0.04)
    arrow(ax, 3.4, 3.25, 2.2, 3.25, "ms later: the answer", size=7, offset=-0.3, colour="#a33")
    arrow(ax, 5.8, 3.45, 7.0, 3.45)
    ax.text(9.1, 3.45, "always on; sized for\nthe peak; p99 latency\nmatters", fontsize=8, va="center",
            color="#555")
    ax.text(0.1, 2.35, "batch scoring: every record at once, on a schedule, the answers read later", fontsize=10,
            color="#345")
    box(ax, 0.2, 0.9, 2.0, 0.9, "tonight's table\n(CSV, parquet,\na warehouse query)", ORANGE)
    box(ax, 3.4, 0.9, 2.4, 0.9, "scoring job (cron, Airflow):\n@champion resolved to a\n"
        "version, loaded once;\nchunks, the same schema", GREY, size=7)
    box(ax, 7.0, 1.25, 1.9, 0.7, "scores: id, class, P,\nversion, run time", GREEN, size=7)
    box(ax, 7.0, 0.3, 1.9, 0.7, "rejects: id, reason", RED, size=7)
    arrow(ax, 2.2, 1.35, 3.4, 1.35, "read in chunks", size=7, offset=0.04)
    arrow(ax, 5.8, 1.5, 7.0, 1.6)
    arrow(ax, 5.8, 1.1, 7.0, 0.65)
    ax.text(9.1, 1.1, "runs for minutes, then\nstops; a rerun replaces,\nnever duplicates", fontsize=8,
            va="center", color="#555")
    return save(fig, BOOK / "m3" / "batch_vs_online.svg")


FIGURES = [ml_vs_software, lifecycle, tracking_server, registry_flow, deployment_paths, serving_architecture,
           batch_vs_online]


def main() -> list[Path]:
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    return [draw() for draw in FIGURES]


if __name__ == "__main__":
    for path in main():
        print("wrote", path.relative_to(BOOK.parent))
