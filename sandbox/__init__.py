"""Local stand-ins for PyPI, RubyGems, npm and GitHub that serve a world generated from a seed.

``Sandbox`` serves every fake on free loopback ports for tests; ``python -m sandbox`` serves them for the demo and
benchmarks. The sandbox imports nothing from the service: a fake that shares our code would share our bugs.
"""

from sandbox.server import Sandbox
from sandbox.world import Mix, World

__all__ = ["Mix", "Sandbox", "World"]
