"""``opslab traffic``: replay production traffic under a scenario to a running lab server."""

from __future__ import annotations

import os

from opslab.data import SCENARIOS

DEFAULT_URL = "http://127.0.0.1:8000"


def configure(parser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("OPSLAB_SERVER_URL") or DEFAULT_URL,
        help=f"the lab server (default: $OPSLAB_SERVER_URL or {DEFAULT_URL})",
    )
    parser.add_argument("--scenario", choices=SCENARIOS, default="sudden", help="what happens to the traffic")
    parser.add_argument("--days", type=int, default=30, help="days of traffic (default 30)")
    parser.add_argument("--n-per-day", type=int, default=500, help="records a day (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="the simulator's seed (default 0)")
    parser.add_argument("--onset", type=int, default=10, help="day the sudden/concept/quality change starts")
    parser.add_argument("--label-lag", type=int, default=3, help="days until a true outcome arrives (default 3)")
    parser.add_argument(
        "--label-coverage", type=float, default=0.5, help="share of predictions whose outcome arrives (default 0.5)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="records per /predict request (default 100)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def command(args) -> int:
    from opslab.traffic.replay import ReplayError, replay

    try:
        summary = replay(
            args.url,
            scenario=args.scenario,
            days=args.days,
            n_per_day=args.n_per_day,
            seed=args.seed,
            onset=args.onset,
            label_lag_days=args.label_lag,
            label_coverage=args.label_coverage,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    except (ReplayError, ValueError) as err:
        print(f"opslab traffic: {err}")
        return 2
    print(summary)
    for line in summary.refusals[:5]:
        print(f"  refused: {line}")
    return 0
