"""The npm follower service (long-running)."""

from follower.follower import NPM_CURSOR, STATUS, Follower, FollowerStats, parse_start
from follower.health import serve_health

__all__ = ["NPM_CURSOR", "STATUS", "Follower", "FollowerStats", "parse_start", "serve_health"]
