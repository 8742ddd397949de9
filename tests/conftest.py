"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.testing.fakeserver import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A fresh fake OpenAI-compatible server (no latency, no random faults, hang 30 s).

    Why fresh per test: per-key fault counters and reply cycles must not leak between tests;
    starting one costs a few milliseconds, and stopping wakes any hung handler at once.
    Change behaviour with ``fake_server.configure(latency=..., faults={...}, hang=...)``.
    """
    with FakeServer() as srv:
        yield srv
