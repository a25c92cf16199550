"""Read tables folded from the event log, and their rebuild by replay."""

from projections import badges, catalogue, commands, dvds, providers, upkeep  # noqa: F401  (register folds)
from projections.fold import HANDLERS, Envelope, apply, fold_of
from projections.rows import RowCache
from projections.tables import EXPORTABLE, TABLES

__all__ = ["EXPORTABLE", "HANDLERS", "TABLES", "Envelope", "RowCache", "apply", "fold_of"]
