"""The start-up check of the faust internals the live shell relies on (vasscm.live.kafka.hooks)."""

from __future__ import annotations

import faust
import pytest
from faust.transport.producer import ProducerBuffer

from vasscm.live.app import create_app
from vasscm.live.delivery import Checkpoint
from vasscm.live.kafka import hooks
from vasscm.settings import Settings


def test_the_pinned_faust_has_every_internal_the_shell_uses() -> None:
    """On the installed (pinned) faust-streaming the class check passes."""
    hooks.check_classes()


def test_a_missing_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A faust release without the buffer's sender would quietly lose the complete
    flush: the check names it instead."""
    monkeypatch.delattr(ProducerBuffer, "_send_pending")
    with pytest.raises(hooks.HookMissing, match=r"faust ProducerBuffer\._send_pending"):
        hooks.check_classes()


def test_another_faust_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "version", lambda name: "0.16.0")
    with pytest.raises(hooks.HookMissing, match=r"faust-streaming 0\.16\.0 .* 0\.15\.3"):
        hooks.check_classes()


def test_the_worker_app_is_wired_with_vasscms_transport() -> None:
    """The app create_app builds uses vasscm's consumer, producer, buffer and table,
    and its consumer asks the tracker what it owes, as the pipeline wires it."""
    app, pipeline = create_app(Settings(broker="kafka://127.0.0.1:9", store="memory://"))
    pipeline.wire()
    checkpoint = app.consumer.checkpoint
    assert checkpoint is app.producer.checkpoint
    assert checkpoint.owed == pipeline.tracker.owed
    assert checkpoint.batch is pipeline.publisher.batch


def test_a_consumer_and_producer_without_the_one_checkpoint_are_refused() -> None:
    """Commits would run past records the tracker still holds, or before the outputs
    are on the broker: named at start-up."""
    app, pipeline = create_app(Settings(broker="kafka://127.0.0.1:9", store="memory://"))
    with pytest.raises(hooks.HookMissing, match="does not ask the worker's checkpoint"):
        hooks.check_wiring(app, pipeline.visits)  # unset
    ours = Checkpoint(pipeline.tracker.owed, pipeline.publisher.batch)
    app.consumer.checkpoint = Checkpoint(lambda tp: None)
    app.producer.checkpoint = ours
    with pytest.raises(hooks.HookMissing, match="does not ask the worker's checkpoint"):
        hooks.check_wiring(app, pipeline.visits, checkpoint=ours)
    app.consumer.checkpoint = ours
    app.producer.checkpoint = Checkpoint(pipeline.tracker.owed, pipeline.publisher.batch)
    with pytest.raises(hooks.HookMissing, match="producer does not flush through"):
        hooks.check_wiring(app, pipeline.visits, checkpoint=ours)
    app.producer.checkpoint = ours
    hooks.check_wiring(app, pipeline.visits, checkpoint=ours)


def test_a_faust_whose_commit_no_longer_asks_new_offset_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The override of _new_offset is only safe while faust's commit calls it."""
    from faust.transport.consumer import Consumer

    def committable(self, tps):  # type: ignore[no-untyped-def]
        return {tp: self._committed_offset.get(tp) for tp in tps}

    monkeypatch.setattr(Consumer, "_filter_committable_offsets", committable)
    with pytest.raises(hooks.HookMissing, match=r"_filter_committable_offsets calling"):
        hooks.check_classes()


def test_a_plain_faust_app_is_not_wired_as_the_shell_needs() -> None:
    """faust's own transport would commit past unprocessed records: refused, naming
    each part that is not vasscm's."""
    app = faust.App("plain", broker="kafka://127.0.0.1:9", autodiscover=False)
    table = app.Table("visits", default=None)
    with pytest.raises(hooks.HookMissing) as failed:
        hooks.check_wiring(app, table)
    said = str(failed.value)
    assert "consumer is Consumer, not vasscm's" in said
    assert "producer is Producer, not vasscm's" in said
    assert "visits table is Table, not vasscm's" in said
