"""Dispatch of events to the pure folds that update the read tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

from events.types import EVENT_TYPES, Event
from projections.rows import RowCache


class Envelope(NamedTuple):
    """Where an event stands in the log: its seq, its time and the command that caused it.

    A tuple rather than a frozen dataclass: replay builds one per event, and tuples are cheapest.
    """

    seq: int
    at: str
    command_id: str | None = None


Fold = Callable[[RowCache, Envelope, Any], None]
HANDLERS: dict[type[Event], list[Fold]] = defaultdict(list)
# What a replay decodes some types' rows into instead of the event: a Struct of the same tag
# declaring only the fields their folds read (msgspec then skips the rest without building it).
READ_AS: dict[type[Event], type] = {}


def on(*types: type[Event]) -> Callable[[Fold], Fold]:
    """Register a fold for some event types."""
    def register(fn: Fold) -> Fold:
        for t in types:
            HANDLERS[t].append(fn)
        return fn
    return register


def read_as(event_type: type[Event]) -> Callable[[type], type]:
    """Register a lighter Struct a replay decodes rows of ``event_type`` into: the same tag, only
    the fields that type's folds read (the property test holds replay == incremental folds)."""
    def register(view: type) -> type:
        READ_AS[event_type] = view
        return view
    return register


def fold_of(event_type: type[Event], modules: frozenset[str] | None = None) -> Fold | None:
    """The one callable that folds events of this type (its folds in order, only those of
    ``modules`` if given), None if none does."""
    folds = [f for f in HANDLERS.get(event_type, ()) if modules is None or f.__module__ in modules]
    if len(folds) <= 1:
        return folds[0] if folds else None

    def every(rows: RowCache, env: Envelope, event: Any) -> None:
        for fold in folds:
            fold(rows, env, event)
    return every


def apply(rows: RowCache, env: Envelope, event: Event) -> None:
    """Fold one event into the read tables (events no table cares about are skipped)."""
    for fold in HANDLERS.get(type(event), ()):
        fold(rows, env, event)


class Position:
    """The envelope replay and record hand every fold: one object whose fields are set for each
    event (building a tuple per event cost half a second in a million)."""

    __slots__ = ("at", "command_id", "seq")


def fold_run(rows: RowCache, events: Sequence[Event], command_id: str | None, after_seq: int, at: str) -> None:
    """Fold one command's run of events, just appended as seqs ``after_seq`` + 1 on at ``at``
    (the record path: the writer's plain way and its pipeline alike)."""
    folds, env = folds_by_type(), Position()
    env.command_id, env.at = command_id, at
    for seq, event in enumerate(events, after_seq + 1):
        env.seq = seq
        folds[type(event)](rows, env, event)


def _no_fold(rows: RowCache, env: object, event: Event) -> None:
    """An event no read table cares about."""


@cache
def folds_by_type(modules: frozenset[str] | None = None) -> dict[type[Event], Fold]:
    """Each event type's one fold (its folds in order; only those of ``modules`` if given),
    built once: every fold is registered when projections is imported."""
    folds = {t: fold_of(t, modules) or _no_fold for t in EVENT_TYPES.values()}
    return folds | {view: folds[t] for t, view in READ_AS.items()}


@cache
def replay_types() -> tuple[type, ...]:
    """Every event type as a replay decodes it: the event, or the lighter view registered for it."""
    return tuple(READ_AS.get(t, t) for t in EVENT_TYPES.values())
