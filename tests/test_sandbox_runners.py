"""Ways to run the sandbox: a background thread for sync tests, serve() and the `tracker sandbox` entry."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tracker.sandbox import Sandbox, SandboxThread, run_sandbox, serve


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sandbox_thread_serves_sync_callers_and_takes_knobs():
    """SandboxThread serves from its own loop; env, stats and configure work from the calling thread."""
    with SandboxThread(synthetic_count=10) as sb:
        env = sb.env()
        assert set(env) == {"TMDB_BASE_URL", "TMDB_IMAGE_BASE_URL", "YTS_BASE_URL", "TMDB_API_KEY"}
        assert env["TMDB_BASE_URL"] == f"http://127.0.0.1:{sb.port}/3" == sb.tmdb_base_url
        assert env["TMDB_IMAGE_BASE_URL"].endswith("/t/p") and env["YTS_BASE_URL"].endswith("/api/v2")
        status, body = _get(f"{sb.tmdb_base_url}/movie/5000009?api_key={env['TMDB_API_KEY']}")
        assert status == 200 and body["title"] == "Synthetic Film 000009"
        sb.configure(synthetic_count=5)
        assert _get(f"{sb.tmdb_base_url}/movie/5000009?api_key={env['TMDB_API_KEY']}")[0] == 404
        assert sb.stats()["by_status"] == {"200": 1, "404": 1}
        sb.reset_stats()
        assert sb.stats()["requests"] == 0
        url = f"{sb.tmdb_base_url}/movie/550"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_sandbox_thread_reports_a_port_in_use():
    """Starting on a taken port raises in the caller instead of hanging."""
    with SandboxThread() as first:
        with pytest.raises(OSError):
            SandboxThread(port=first.port).start()


def test_unknown_knob_fails_at_construction():
    """A misspelt knob is refused before anything listens."""
    with pytest.raises(ValueError, match="latncy_s"):
        Sandbox(latncy_s=1)


async def test_serve_prints_exports_and_stops_on_request():
    """serve() prints the export lines with a real port, answers, and returns when told to stop."""
    stop, out = asyncio.Event(), io.StringIO()
    task = asyncio.create_task(serve(0, stop=stop, out=out))
    for _ in range(100):
        if out.getvalue():
            break
        await asyncio.sleep(0.01)
    lines = out.getvalue().splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "export TMDB_BASE_URL", "export TMDB_IMAGE_BASE_URL", "export YTS_BASE_URL", "export TMDB_API_KEY"]
    assert lines[-1] == "export TMDB_API_KEY=sandbox-key"
    base = lines[0].split("=", 1)[1]
    status, _ = await asyncio.to_thread(_get, f"{base}/genre/movie/list?api_key=sandbox-key")
    assert status == 200
    stop.set()
    await asyncio.wait_for(task, 5)


def test_run_sandbox_exits_0_on_sigterm():
    """The `tracker sandbox` entry point serves until SIGTERM, then returns 0."""
    code = "import sys; from tracker.sandbox import run_sandbox; sys.exit(run_sandbox(0))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = proc.stdout.readline()
        assert first.startswith("export TMDB_BASE_URL=http://127.0.0.1:")
        base = first.strip().split("=", 1)[1]
        assert _get(f"{base}/movie/550?api_key=sandbox-key")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_sandbox_returns_1_when_the_port_is_taken(capsys):
    """A taken port is a one-line message and exit status 1, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert run_sandbox(taken.getsockname()[1]) == 1
    assert "cannot listen" in capsys.readouterr().err
