"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vasscm.live.tools.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded Tansu broker on a free port for the session (memory storage: unique
    topic names per test keep tests apart)."""
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own: for tests that freeze it, kill workers against it, or
    need its group offsets and topics to start empty."""
    with EmbeddedBroker() as embedded:
        yield embedded
