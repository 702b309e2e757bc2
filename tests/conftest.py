"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vasscm.live.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One embedded Tansu broker on a free port for the session (memory storage: unique
    topic names per test keep tests apart)."""
    with EmbeddedBroker() as embedded:
        yield embedded
