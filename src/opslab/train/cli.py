"""``opslab train [--force] [--alias ALIAS]``: train the default model and register it in the course registry."""

from __future__ import annotations

from opslab.registry import CHAMPION, champion_uri, tracking_uri
from opslab.train import train_and_register


def configure(parser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="train and register a new version even if up to date"
    )
    parser.add_argument(
        "--alias", default=CHAMPION, help="alias to point at the new version (default: champion)"
    )


def command(args) -> int:
    version = train_and_register(force=args.force, alias=args.alias)
    print(
        f"model URI: {champion_uri(alias=args.alias)} (version {version.version}, registry {tracking_uri()})"
    )
    return 0
