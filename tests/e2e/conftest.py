"""Fixtures of the end-to-end tests that several modules share."""

from tests.e2e.live import live_stack

__all__ = ["live_stack"]
