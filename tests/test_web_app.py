"""The web application in-process: escaping, health when the engine stops or the database breaks,
metrics kept by the engine as it works, the --http setting, and `demo --serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.engine_support import FAST_RETRIES, cli, query
from tests.web_support import LOCAL_RATES, copy_home, web_address
from tracker.cli.main import main
from tracker.config import load_settings
from tracker.db import Database
from tracker.engine.engine import Engine
from tracker.engine.submit import enqueue
from tracker.web.app import serve_web

TITLE = '<script>alert("x")</script> & Co'


@asynccontextmanager
async def serving(settings, web_settings=None):
    """An engine (not yet running commands) with the web page on a free port, and a client."""
    async with Engine(settings) as engine:
        async with serve_web(web_settings or settings, engine, "127.0.0.1:0") as url:
            async with aiohttp.ClientSession(base_url=url) as http:
                yield engine, http


@pytest.fixture
def hostile_home(tmp_path, capsys) -> Path:
    """A home whose only DVD has markup for a title."""
    code, _, err = cli(capsys, "--home", str(tmp_path), "add", TITLE, "--year", "1999")
    assert code == 0, err
    return tmp_path


async def test_markup_in_a_title_shows_as_text(hostile_home):
    """A title such as <script> is escaped on the grid and the DVD page, and the API keeps it as is."""
    async with serving(load_settings(home=hostile_home, env={})) as (_, http):
        for path in ("/", "/dvds/1", "/?search=%3Cscript"):
            body = await (await http.get(path)).text()
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in body, path
            assert "<script>alert" not in body, path
        api = await (await http.get("/api/dvds/1")).json()
        assert api["title"] == TITLE


@pytest.fixture
def edited_home(hostile_home, capsys) -> Path:
    """The hostile home with its DVD's director set by hand (so locked), in markup too."""
    code, _, err = cli(capsys, "--home", str(hostile_home), "edit", "1", "--director", "Jane <b>Doe</b>")
    assert code == 0, err
    return hostile_home


async def test_dvd_page_marks_locked_fields_and_shows_the_edit(edited_home):
    """A field set by hand is locked: the DVD page marks it, the API lists it, the timeline has the edit."""
    async with serving(load_settings(home=edited_home, env={})) as (_, http):
        api = await (await http.get("/api/dvds/1")).json()
        page = await (await http.get("/dvds/1")).text()
    assert api["locked_fields"] == ["director"] and api["director"] == "Jane <b>Doe</b>"
    edit = api["history"][-1]
    assert (edit["command"], edit["changes"][0]["field"]) == ("edit", "director")
    assert (edit["changes"][0]["old"], edit["changes"][0]["new"]) == (None, "Jane <b>Doe</b>")
    assert '<dd>Jane &lt;b&gt;Doe&lt;/b&gt; <span class="lock"' in page
    assert "Locked: director" in page and "<b>Doe" not in page


async def test_healthz_is_503_once_the_engine_stops(hostile_home):
    """/healthz turns 503 with the engine's state as soon as the engine is asked to stop."""
    async with serving(load_settings(home=hostile_home, env={})) as (engine, http):
        response = await http.get("/healthz")
        assert response.status == 200 and (await response.json())["engine"] == "running"
        engine.stop()
        response = await http.get("/healthz")
        body = await response.json()
        assert response.status == 503 and body == {**body, "status": "unhealthy", "engine": "stopping"}
        metrics = await (await http.get("/metrics")).text()
        assert "tracker_engine_up 0.0" in metrics


async def test_healthz_is_503_when_the_database_cannot_be_read(hostile_home, tmp_path_factory):
    """A database that cannot be read gives 503 on /healthz and the pages, saying so."""
    broken = tmp_path_factory.mktemp("broken")
    (broken / "tracker.db").write_bytes(b"this is not a database" * 100)
    async with serving(load_settings(home=hostile_home, env={}),
                       load_settings(home=broken, env={})) as (_, http):
        response = await http.get("/healthz")
        body = await response.json()
        assert response.status == 503 and body["status"] == "unhealthy"
        assert "the database cannot be read" in body["error"]
        response = await http.get("/")
        assert response.status == 503 and "the database cannot be read" in await response.text()


async def test_metrics_count_what_the_engine_did(sample_home, web_sandbox, tmp_path):
    """After a torrent check of the sample collection, /metrics holds its events, items, end and requests."""
    home = copy_home(sample_home, tmp_path / "home")
    settings = load_settings(home=home, env={**web_sandbox.env(), **FAST_RETRIES, **LOCAL_RATES})
    before = query(home, "SELECT COUNT(*) FROM events")[0][0]
    with Database(settings.db_path) as db:
        command_id, _ = enqueue(db, "refresh-torrent-data", {})
    async with serving(settings) as (engine, http):
        await engine.run(until=command_id)
        text = await (await http.get("/metrics")).text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    appended = query(home, "SELECT COUNT(*) FROM events")[0][0] - before
    assert samples[("tracker_events_total", ())] == appended - 1  # all but the intent, queued before
    assert samples[("tracker_items_total", (("outcome", "skipped"),))] == 29  # torrents unchanged
    assert samples[("tracker_commands_total", (("status", "completed"),))] == 1
    assert samples[("tracker_http_requests_total", (("kind", "yts"), ("status", "200")))] == 29
    assert samples[("tracker_queue_depth", ())] == 0


def test_http_setting_flag_environment_and_toml(tmp_path, capsys):
    """`http` comes from tracker.toml or TRACKER_HTTP; a bad value is one line naming it, exit 2."""
    (tmp_path / "tracker.toml").write_text('http = "0.0.0.0:9000"\n')
    assert load_settings(home=tmp_path, env={}).http == "0.0.0.0:9000"
    assert load_settings(home=tmp_path, env={"TRACKER_HTTP": "8080"}).http == "127.0.0.1:8080"
    assert load_settings(home=tmp_path / "none", env={}).http is None
    (tmp_path / "tracker.toml").write_text("http = true\n")
    assert load_settings(home=tmp_path, env={}).http == "127.0.0.1:8765"
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(tmp_path), "daemon", "--http", "here:port"])
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    assert err == "tracker daemon: error: argument --http: 'here:port' is not HOST:PORT such as 127.0.0.1:8765\n"
    (tmp_path / "tracker.toml").write_text('http = "nowhere"\n')
    code, _, err = cli(capsys, "--home", str(tmp_path), "daemon")
    assert code == 2 and err.count("\n") == 1
    assert "http must be HOST:PORT such as 127.0.0.1:8765, got 'nowhere'" in err


def test_a_taken_address_is_one_line(tmp_path, capsys):
    """Another program on the address: the daemon says so in one line and exits 1."""
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = cli(capsys, "--home", str(tmp_path), "daemon", "--http", f"127.0.0.1:{port}")
    assert code == 1
    assert err == (f"tracker daemon: error: --http: cannot listen on 127.0.0.1:{port}: another program "
                   "listens there (give --http another HOST:PORT)\n")


def test_demo_serve_prints_the_address_and_stops_on_ctrl_c(tmp_path):
    """`tracker demo --serve` runs the demo, serves its home on loopback, and Ctrl-C ends it with 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "TRACKER_"))}
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", "demo", "--serve", "--home", str(tmp_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in proc.stdout:
            if url := web_address(line):
                break
        assert url and url.startswith("http://127.0.0.1:"), "no loopback address printed"
        import urllib.request
        with urllib.request.urlopen(url + "api/dvds", timeout=10) as response:
            assert response.headers["X-Total-Count"] == "29"
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_commands_api_shows_a_command_no_engine_runs_as_interrupted(hostile_home):
    """A command left 'running' by a killed process is shown interrupted, as `tracker status` does."""
    from events.types import CommandRequested, CommandStarted
    with Database(hostile_home / "tracker.db") as db:
        db.record([CommandRequested(command_id="killed000001", name="refresh-torrent-data"),
                   CommandStarted(command_id="killed000001", total=3)], "killed000001")
    async with serving(load_settings(home=hostile_home, env={})) as (_engine, http):
        body = await (await http.get("/api/commands")).json()
    statuses = {c["command_id"]: c["status"] for c in body["commands"]}
    assert statuses["killed000001"] == "interrupted"
