"""Fixtures for the web page's tests: a sample home, a daemon serving it, a headless Chromium."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.engine_support import FAST_RETRIES
from tracker.cli.demo import run_step
from tracker.config import load_settings
from tracker.sandbox.server import SandboxThread

# The sample collection as the demo builds it, less the catalogue (the pages show DVDs).
SAMPLE_STEPS = ("load-sample-data", "match-tmdb-ids", "populate-imdb-ids", "refresh-missing-details",
                "normalize-uk-certifications", "refresh-torrent-data", "create-initial-badges")
LOCAL_RATES = {"TRACKER_TMDB_RATE": "400", "TRACKER_YTS_RATE": "400"}  # the sandbox is local
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1280,900")


def build_sample_home(home: Path, env: dict[str, str]) -> None:
    """The sample collection matched, detailed, with posters, torrents and badges."""
    settings = load_settings(home=home, env=env)

    async def steps() -> None:
        for name in SAMPLE_STEPS:
            result = await run_step(settings, name, {})
            assert result["status"] == "completed", result

    asyncio.run(steps())


@dataclass
class Daemon:
    """A ``tracker daemon --http`` process and where its page is."""

    proc: subprocess.Popen
    url: str
    home: Path
    env: dict[str, str]

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of one request; error statuses are answers too."""
        request = urllib.request.Request(self.url + path.lstrip("/"), method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def web_address(line: str) -> str | None:
    """The web page's URL if this output line announces it (as text or as a log line)."""
    found = re.search(r"web page at (http://\S+?/)", line)
    return found.group(1) if found else None


def start_daemon(home: Path, env: dict[str, str], *extra: str) -> Daemon:
    """Start the daemon on a free loopback port and wait for the line that names its address."""
    full = {**os.environ, **env, "TRACKER_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", "daemon", "--http", "127.0.0.1:0", *extra],
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            proc.kill()
            raise AssertionError("the daemon never said where its web page is") from None
        if url := web_address(line):
            return Daemon(proc, url, home, env)


def stop_daemon(daemon: Daemon) -> int:
    """SIGTERM, as a service manager would; its exit code."""
    daemon.proc.send_signal(signal.SIGTERM)
    try:
        return daemon.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        daemon.proc.kill()
        raise


@pytest.fixture(scope="session")
def web_sandbox() -> Iterator[SandboxThread]:
    """The sandbox the sample home was built against and the daemon refreshes from."""
    with SandboxThread() as sb:
        yield sb


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory, web_sandbox: SandboxThread) -> Path:
    """A home holding the processed sample collection (built once; copy it before writing)."""
    home = tmp_path_factory.mktemp("sample-home")
    build_sample_home(home, {**web_sandbox.env(), **FAST_RETRIES, **LOCAL_RATES})
    return home


@pytest.fixture(scope="session")
def web_daemon(tmp_path_factory: pytest.TempPathFactory, sample_home: Path,
               web_sandbox: SandboxThread) -> Iterator[Daemon]:
    """A daemon serving a copy of the sample home, pointed at the sandbox, two requests at a time."""
    home = tmp_path_factory.mktemp("daemon") / "home"
    shutil.copytree(sample_home, home)
    env = {**web_sandbox.env(), **FAST_RETRIES, "TRACKER_CONCURRENCY": "2"}
    daemon = start_daemon(home, env)
    yield daemon
    assert stop_daemon(daemon) == 0


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session, driven through Debian's chromedriver (never skipped)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: apt-get install -y chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def copy_home(source: Path, target: Path) -> Path:
    """A copy of a home to write to (the database and the media folder)."""
    shutil.copytree(source, target)
    return target

