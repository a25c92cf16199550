"""Which checkpoints to keep: the newest few, older ones thinned out with age, a bounded count.

Kept apart from tracker/checkpoints.py (which saves, trusts and prunes them) as a pure rule:
seqs in, seqs out.
"""

from __future__ import annotations

NEWEST_KEPT = 4  # the newest checkpoints are always kept
SPREAD = 4  # an older one is kept when 1/SPREAD of its distance from the head lies before it
MAX_KEPT = 12  # at most this many checkpoint files (each the size of the read tables)


def kept(seqs: list[int], head: int) -> set[int]:
    """The seqs of the checkpoints pruning keeps, of those at ``seqs`` with the log at ``head``.

    The newest NEWEST_KEPT (a command saves one as it ends and some inside: time travel near now is
    quick), and older ones thinned so the gap before each is at least 1/SPREAD of its distance
    from the head: coverage over the whole log, coarser with age; thinned more while over
    MAX_KEPT files.
    """
    ordered = sorted(set(seqs))
    newest, older = ordered[-NEWEST_KEPT:], ordered[:-NEWEST_KEPT]
    spread = float(SPREAD)
    out = _thinned(older, head, spread)
    while len(out) + len(newest) > MAX_KEPT and spread > 0.01:
        spread /= 1.25  # coarser everywhere alike, so the coverage keeps its shape
        out = _thinned(older, head, spread)
    excess = max(0, len(out) + len(newest) - MAX_KEPT)  # left only if thinning could not help
    return {*out[excess:], *newest}


def _thinned(seqs: list[int], head: int, spread: float) -> list[int]:
    """Of ``seqs`` (ascending), those with at least 1/``spread`` of their distance from the head
    between them and the one kept before (the log's start counts as one: a replay from nothing)."""
    out: list[int] = []
    last = 0
    for seq in seqs:
        if (seq - last) * spread >= head - seq:
            out.append(seq)
            last = seq
    return out
