"""The ``opslab`` command: one verb per module, imported only when that verb runs."""

from __future__ import annotations

import argparse
import importlib
import sys

from opslab.env import go_offline

# verb -> (module, one-line help). Every verb lives in opslab/<verb>/cli.py, which defines
# configure(parser) and command(args) -> int; the package opslab/<verb>/ holds what the verb uses.
VERBS = {
    "run": ("opslab.run.cli", "execute notebooks with papermill and print a timing table"),
    "assign": ("opslab.assign.cli", "regenerate the learner notebooks in labs/ from solutions/"),
    "grade": ("opslab.grade.cli", "grade a folder of learner submissions into a gradebook and feedback"),
    "gradebook": ("opslab.gradebook.cli", "merge the shards of `opslab grade --shard K/N` into one gradebook"),
    "train": ("opslab.train.cli", "train the default churn model and register it as churn-classifier@champion"),
    "serve": ("opslab.serve.cli", "start the lab model server (FastAPI + uvicorn)"),
    "traffic": ("opslab.traffic.cli", "replay production traffic under a drift scenario to a running lab server"),
    "demo": ("opslab.demo.cli", "start the Gradio demo that scores customers through the lab server"),
    "streamlit": ("opslab.streamlit.cli", "start the course's Streamlit app (Lab 3.4's reference) on the lab server"),
    "space": ("opslab.space.cli", "serve the course's Space (lab server and demo on one port) or build its folder"),
}


def _overview() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opslab", description="Tools for the MLOps & Deployment course.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (_, help_text) in VERBS.items():
        sub.add_parser(verb, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # no verb: say what there is, and fail (a script that forgot its verb must notice)
        _overview().print_help()
        return 2
    if argv[0] not in VERBS:
        _overview().parse_args(argv)  # --help exits 0; an unknown verb exits 2 naming the choices
        return 2
    go_offline()  # every verb (servers, runners, graders) runs with telemetry off
    verb, rest = argv[0], argv[1:]
    module_name, help_text = VERBS[verb]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"opslab {verb}", description=help_text)
    module.configure(parser)
    return int(module.command(parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
