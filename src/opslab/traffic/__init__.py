"""``opslab traffic``: replay the simulator's production traffic against a running lab server."""

from opslab.traffic.replay import ReplayError, ReplaySummary, replay

__all__ = ["ReplayError", "ReplaySummary", "replay"]
