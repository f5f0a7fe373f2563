"""The npm follower service (long-running)."""

from follower.follower import Follower, FollowerStats

__all__ = ["Follower", "FollowerStats"]
