"""The built-in TMDB v3 + YTS v2 + image simulator (``tracker sandbox``, ``tracker demo``, tests)."""

from __future__ import annotations

from tracker.sandbox.catalogue import HOSTILE_PATHS, hostile_path, is_hostile_target
from tracker.sandbox.knobs import Knobs
from tracker.sandbox.server import Sandbox, SandboxThread, export_lines, run_sandbox, serve
from tracker.sandbox.synthetic import MOVIE_ID_BASE, TV_ID_BASE, synthetic_titles

__all__ = [
    "HOSTILE_PATHS", "MOVIE_ID_BASE", "TV_ID_BASE", "Knobs", "Sandbox", "SandboxThread", "export_lines",
    "hostile_path", "is_hostile_target", "run_sandbox", "serve", "synthetic_titles",
]
