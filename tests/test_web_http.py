"""The daemon's web page over plain HTTP: every route, the API's fields, 404/405, paths, secrets, metrics."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from projections.export import FIELDS
from tests.engine_support import cli
from tests.web_support import SAMPLE_STEPS

PAGES = ("/", "/dvds/1", "/commands", "/badges")
APIS = ("/api/dvds", "/api/dvds/1", "/api/commands", "/api/badges", "/healthz", "/metrics")


def raw_get(daemon, path: str) -> int:
    """The status of a request sent with its path exactly as given (no client-side clean-up)."""
    parts = urlsplit(daemon.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_every_page_is_html_naming_the_collection(web_daemon):
    """Each page answers 200 HTML; the grid shows the sample titles and their poster files."""
    for path in PAGES:
        status, headers, _ = web_daemon.get(path)
        assert (path, status) == (path, 200)
        assert headers["Content-Type"].startswith("text/html")
    body = web_daemon.get("/")[2].decode()
    assert "Fight Club" in body and "No Country for Old Men" in body
    assert body.count('<img src="/media/posters/') == 29
    badges = web_daemon.get("/badges")[2].decode()
    earned = [b for b in json.loads(web_daemon.get("/api/badges")[2]) if b["earned"]]
    assert f"Earned ({len(earned)})" in badges and f"Not yet earned ({18 - len(earned)})" in badges
    commands = web_daemon.get("/commands")[2].decode()
    ended = [c for c in json.loads(web_daemon.get("/api/commands")[2])["commands"] if c["status"] == "completed"]
    assert commands.count('class="command completed"') == len(ended) >= len(SAMPLE_STEPS)
    assert '<h2>Schedule</h2>' in commands and "<code>refresh-torrent-data --recent-only</code>" in commands


def test_api_dvds_equals_the_export(web_daemon, capsys):
    """/api/dvds is `tracker export dvds`, row for row, field for field."""
    status, headers, body = web_daemon.get("/api/dvds")
    code, out, err = cli(capsys, "--home", str(web_daemon.home), "export", "dvds")
    assert code == 0, err
    assert status == 200 and headers["X-Total-Count"] == "29"
    rows = json.loads(body)
    assert rows == json.loads(out)
    assert list(rows[0]) == list(FIELDS["dvds"])


def test_api_dvds_search_limit_offset(web_daemon):
    """?search= filters by title in any case; ?limit and ?offset page through in id order."""
    status, headers, body = web_daemon.get("/api/dvds?search=DUNE")
    assert status == 200 and headers["X-Total-Count"] == "2"
    assert [d["title"] for d in json.loads(body)] == ["Dune", "Dune"]
    page = json.loads(web_daemon.get("/api/dvds?limit=5&offset=5")[2])
    assert [d["id"] for d in page] == [6, 7, 8, 9, 10]
    assert json.loads(web_daemon.get("/api/dvds?search=%25")[2]) == []  # % is a character, not a wildcard
    status, _, body = web_daemon.get("/api/dvds?limit=lots")
    assert status == 400 and "limit must be a whole number" in json.loads(body)["error"]


def test_api_dvd_carries_its_history(web_daemon):
    """/api/dvds/ID: the exported fields plus a timeline naming each command and old -> new."""
    dvd = json.loads(web_daemon.get("/api/dvds/3")[2])
    assert dvd["title"] == "No Country for Old Men" and dvd["locked_fields"] == []
    commands = [entry["command"] for entry in dvd["history"]]
    assert commands[:4] == ["load-sample-data", "match-tmdb-ids", "populate-imdb-ids", "refresh-missing-details"]
    matched = dvd["history"][1]
    assert matched["changes"] == [{"field": "tmdb_id", "old": None, "new": dvd["tmdb_id"], "note": ""}]
    assert matched["at"] < dvd["history"][2]["at"]
    assert dvd["history"][0]["changes"][0] == {"field": "title", "old": None, "new": dvd["title"], "note": ""}


def test_api_commands_and_badges_match_the_cli(web_daemon, capsys, monkeypatch):
    """/api/commands holds what `status --json` and `schedule --json` print; /api/badges what
    `badges --json` prints."""
    data = json.loads(web_daemon.get("/api/commands")[2])
    code, out, _ = cli(capsys, "--home", str(web_daemon.home), "status", "--json")
    assert code == 0
    status_rows = [json.loads(line) for line in out.splitlines()]
    assert [c["command_id"] for c in data["commands"]] == [c["command_id"] for c in status_rows]
    assert set(data) >= {"queue_depth", "running", "last_command_end", "commands"}
    monkeypatch.setenv("TMDB_API_KEY", web_daemon.env["TMDB_API_KEY"])  # as the daemon has it
    code, out, _ = cli(capsys, "--home", str(web_daemon.home), "schedule", "--json")
    schedule = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(schedule) == 6  # the default routine, as the daemon keeps it
    by_command = lambda e: e["command"]  # noqa: E731
    assert sorted(data["schedule"], key=by_command) == sorted(schedule, key=by_command)
    assert [e["next_due"] for e in data["schedule"]] == sorted(e["next_due"] for e in schedule)
    badges = json.loads(web_daemon.get("/api/badges")[2])
    code, out, _ = cli(capsys, "--home", str(web_daemon.home), "badges", "--json")
    assert badges == [json.loads(line) for line in out.splitlines()]


def test_unknown_ids_and_paths_are_404(web_daemon):
    """Unknown DVD ids and paths get a 404 page (JSON under /api/)."""
    status, headers, body = web_daemon.get("/dvds/9999")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert "nothing at /dvds/9999" in body.decode()
    status, _, body = web_daemon.get("/api/dvds/9999")
    assert status == 404 and json.loads(body)["status"] == 404
    for path in ("/dvds/abc", "/dvds/-1", "/nope", "/api/nope", "/dvds/99999999999999999999999"):
        assert web_daemon.get(path)[0] == 404, path


def test_anything_but_get_is_405(web_daemon):
    """POST, PUT, DELETE and PATCH are refused everywhere with 405 and Allow: GET, HEAD."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/dvds", "/api/dvds/1", "/healthz", "/nope"):
            status, headers, _ = web_daemon.get(path, method)
            assert (method, path, status, headers.get("Allow")) == (method, path, 405, "GET, HEAD")
    assert web_daemon.get("/", "HEAD")[0] == 200


def test_media_serves_posters_and_nothing_outside(web_daemon):
    """A poster is served from media/; dot-dot, encoded or not, and hidden files are not."""
    poster = json.loads(web_daemon.get("/api/dvds/1")[2])["poster"]
    status, headers, body = web_daemon.get("/" + poster)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert body == (web_daemon.home / poster).read_bytes()
    (web_daemon.home / "media" / ".secret").write_text("x")
    for path in ("/media/../tracker.db", "/media/%2e%2e/tracker.db", "/media/posters/..%2f..%2ftracker.db",
                 "/media/.secret", "/media/posters", "/static/../tracker.db", "/static/%2e%2e/tracker.db",
                 "/media//etc/passwd", "/media/%2fetc%2fpasswd"):
        assert raw_get(web_daemon, path) == 404, path


def test_no_secret_in_any_page_or_header(web_daemon):
    """The TMDB key the daemon holds appears in no body and no header of any route."""
    key = web_daemon.env["TMDB_API_KEY"]
    for path in (*PAGES, *APIS, "/static/app.js", "/nope", "/dvds/9999"):
        _, headers, body = web_daemon.get(path)
        assert key not in body.decode("utf-8", "replace"), path
        assert key not in json.dumps(headers), path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_healthz_reports_the_engine(web_daemon):
    """/healthz: 200 with the engine running, the queue depth and when the last command ended."""
    status, _, body = web_daemon.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["engine"] == "running"
    assert health["queue_depth"] == 0 and health["last_command_end"].startswith("20")


def test_metrics_parse_as_prometheus_text(web_daemon):
    """/metrics parses with prometheus_client's parser and names the series SPEC.md asks for."""
    status, headers, body = web_daemon.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert {"tracker_events", "tracker_commands", "tracker_items", "tracker_http_requests",
            "tracker_queue_depth"} <= set(families)
    assert families["tracker_commands"].type == "counter"
    statuses = {s.labels["status"] for s in families["tracker_commands"].samples if s.name.endswith("_total")}
    assert statuses >= {"completed", "failed", "cancelled"}
    assert families["tracker_queue_depth"].samples[0].value == 0
