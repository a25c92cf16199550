"""The engine's counters for /metrics: events, items by outcome and command ends, per committed batch."""

from __future__ import annotations

from types import SimpleNamespace

from events.types import CommandCompleted, CommandFailed, CommandStarted, DvdAdded, ItemProcessed
from tracker.commands.base import UPDATED, Item, Outcome
from tracker.engine.runner import item_events
from tracker.engine.stats import EngineStats


def _item(n: int, outcome: str) -> ItemProcessed:
    """An item's end as the runner records it."""
    return ItemProcessed(command_id="c1", item=f"line:{n}", outcome=outcome)


def test_a_batch_counts_its_events_items_by_outcome_and_command_ends() -> None:
    """Every event counts once; each ItemProcessed by its outcome; each end by its status (each
    the last event of its entry, as the runner and the engine write them)."""
    stats = EngineStats()
    stats.recorded([([CommandStarted(command_id="c1")], "c1"),
                    ([DvdAdded(dvd_id=0, title="A"), _item(2, "updated")], "c1"),
                    ([_item(3, "failed")], "c1"), ([], None),
                    ([_item(4, "skipped")], "c1"), ([_item(5, "updated")], "c1")])
    stats.recorded([([CommandCompleted(command_id="c1")], "c1"), ([CommandFailed(command_id="c2", reason="x")], "c2")])
    stats.recorded([([DvdAdded(dvd_id=0, title="B")], None)])
    assert stats.events == 9
    assert dict(stats.items) == {"updated": 2, "failed": 1, "skipped": 1}
    assert dict(stats.commands) == {"completed": 1, "failed": 1}


def test_an_items_entry_ends_with_its_one_item_processed() -> None:
    """The runner's entry for an item holds its events, then its ItemProcessed, last and alone:
    the engine's counters look at each entry's last event only."""
    run = SimpleNamespace(command_id="c1")
    outcome = Outcome(UPDATED, [DvdAdded(dvd_id=0, title="A"), DvdAdded(dvd_id=0, title="B")])
    events = item_events(run, Item("line:2"), outcome)
    assert [type(e) for e in events] == [DvdAdded, DvdAdded, ItemProcessed]
    stats = EngineStats()
    stats.recorded([(events, "c1")])
    assert (stats.events, dict(stats.items)) == (3, {"updated": 1})
