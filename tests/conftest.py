"""Fixtures shared by the test modules.

``cli``: the CLI in-process for a fresh offline home. ``sandbox`` and ``home``: one sandbox per module
(the bundled catalogue plus a few synthetic titles) and a fresh home wired to it; the engine tests
define their own ``sandbox`` and ``home`` (a bigger or slower sandbox, a bare home path), which take
precedence in those modules. ``sample_home``, ``web_daemon``, ``web_sandbox`` and ``browser``
(tests/web_support.py): the processed sample collection, a daemon serving it, one headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalogue_support import DEFAULT_KNOBS, FAST, Home
from tests.offline_support import Cli
from tracker.sandbox.server import SandboxThread

pytest_plugins = ("tests.web_support",)  # its session fixtures, registered without importing names


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI for a home that does not exist yet."""
    return Cli(tmp_path / "home", capsys)


@pytest.fixture(scope="module")
def sandbox():
    """One sandbox for the module: the bundled real catalogue plus a few synthetic titles."""
    with SandboxThread(synthetic_count=30, synthetic_tv_count=10) as sb:
        yield sb


@pytest.fixture
def home(tmp_path: Path, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Home:
    """A fresh home pointed at the sandbox, with its knobs and counters reset."""
    sandbox.configure(**DEFAULT_KNOBS)
    sandbox.reset_stats()
    path = tmp_path / "home"
    monkeypatch.setenv("TRACKER_HOME", str(path))
    for key, value in {**sandbox.env(), **FAST}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TMDB_ACCESS_TOKEN", raising=False)
    yield Home(path, sandbox, capsys)
    sandbox.configure(**DEFAULT_KNOBS)
