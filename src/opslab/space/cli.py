"""``opslab space``: serve the course's Space (lab server + demo on one port), or build its folder.

    opslab space serve [--host H] [--port 7860] [serve's options]  # the Space's entry point (its CMD)
    opslab space build OUT [--repo .] [--commit SHA]               # the folder to push to the Hub
"""

from __future__ import annotations

import os
import sys

from opslab.serve import cli as serve_cli


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = sub.add_parser(
        "serve", help="the lab server under /api and the Gradio demo at /, in one process on one port"
    )
    serve_cli.configure(serve)  # every option of `opslab serve`, and the same defaults but the port
    serve.set_defaults(port=7860)
    build = sub.add_parser(
        "build", help="write the Space's folder: the wheel of a commit, vendored, and every other version pinned")
    build.add_argument("out", help="the folder to write (created if missing)")
    build.add_argument("--repo", default=".", help="the course repository (default: the current folder)")
    build.add_argument("--commit", default=None, help="the commit to pin (default: the repository's HEAD)")


def command(args) -> int:
    return serve(args) if args.action == "serve" else build(args)


def serve(args) -> int:
    from opslab.space.app import API_PREFIX

    if args.workers != 1:  # the demo's queue and sessions live in one process
        print("opslab space serve: the Space runs one worker (--workers 1)")
        return 2
    problem = serve_cli.prepare(args, "opslab space serve")
    if problem is not None:
        return problem
    here = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104 - a comparison, no bind
    # the demo's client calls the lab server of this same process
    os.environ["OPSLAB_SERVER_URL"] = f"http://{here}:{args.port}{API_PREFIX}"
    print(
        f"opslab space serve: the demo on http://{args.host}:{args.port}/, the lab server on "
        f"{os.environ['OPSLAB_SERVER_URL']} (docs: {API_PREFIX}/docs), model {os.environ['OPSLAB_MODEL_URI']}",
        flush=True,
    )
    serve_cli.run(args, "opslab.space.app:app_from_env")
    return 0


def build(args) -> int:
    from opslab.space.build import SpaceBuildError, build_space

    try:
        written = build_space(args.repo, args.out, args.commit)
    except SpaceBuildError as err:
        print(f"opslab space build: {err}", file=sys.stderr)
        return 2
    for path in written.values():
        print(f"wrote {path}")
    print("The folder carries opslab's wheel and pins the rest: the Hub builds it from public indexes only.")
    return 0
