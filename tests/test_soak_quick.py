"""The soak suite in small (`make soak` runs it in full): kills against a faulty, rate-limited sandbox."""

from __future__ import annotations

from pathlib import Path

from tests import soak
from tracker.sandbox.server import SandboxThread


def test_three_kills_mid_refresh_against_faults_lose_and_double_nothing(tmp_path: Path) -> None:
    """Three kill -9 at random moments with 10% faults and 429s: every DVD right, no item twice."""
    dvds = 20
    with SandboxThread(synthetic_count=dvds, latency_s=0.05) as sb:
        env = {**sb.env(), **soak.CLIENT}
        expected = soak.reference_dvds(tmp_path, env, dvds, sb)
        figures = soak.interruption_scenario(tmp_path, env, expected, dvds, "kill", 3, seed=7)
        assert sb.stats()["faults"]  # the faults really happened
    assert figures.problems == []
    assert (figures.interruptions, figures.survived) == (3, 3)
    assert (figures.lost, figures.duplicates, figures.wrong_dvds) == (0, 0, 0)
    assert figures.verify_ok and figures.ok()
