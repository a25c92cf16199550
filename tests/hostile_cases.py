"""The table of hostile inputs for test_hostile.py: flags, environment, tracker.toml and homes.

Each case is what an attacker or a careless user would type, with the exit status and the one
error line tracker must answer with. Cases that need files or a sandbox live in test_hostile.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BIG = "99999999999999999999"  # 10^20: beyond SQLite's signed 64-bit integers
HUGE = "99999999999999999999999"
PASSWORD = "pa55w0rd"


@dataclass(frozen=True)
class Case:
    """One hostile input: the arguments, environment or tracker.toml, and the expected answer."""

    id: str
    args: tuple[str, ...]
    message: str  # must appear in the one stderr line
    rc: int = 2
    env: dict[str, str] = field(default_factory=dict)
    toml: str | None = None
    secret: str | None = None  # must appear nowhere in the output


def _flag(id_: str, *args: str, message: str) -> Case:
    return Case(id_, args, message)


FLAG_CASES = [
    _flag("add-tmdb-id-10^20", "add", "X", "--tmdb-id", BIG, message="tmdb_id 99999999999999999999 is too large"),
    _flag("add-tmdb-id-2^63", "add", "X", "--tmdb-id", str(2**63), message="is too large"),
    _flag("add-tmdb-id-huge-digits", "add", "X", "--tmdb-id", "9" * 400, message="is not a whole number"),
    _flag("add-tmdb-id-negative", "add", "X", "--tmdb-id", "-5", message="tmdb_id -5 must be greater than 0"),
    _flag("add-tmdb-id-zero", "add", "X", "--tmdb-id", "0", message="must be greater than 0"),
    _flag("add-tmdb-id-underscore", "add", "X", "--tmdb-id", "1_000", message="is not a whole number"),
    _flag("add-tmdb-id-arabic-digits", "add", "X", "--tmdb-id", "١٢٣", message="is not a whole number"),
    _flag("add-tmdb-id-float", "add", "X", "--tmdb-id", "1e3", message="is not a whole number"),
    _flag("add-tmdb-id-nan", "add", "X", "--tmdb-id", "nan", message="is not a whole number"),
    _flag("add-year-huge", "add", "X", "--year", HUGE, message="is outside 1870-2100"),
    _flag("add-year-early", "add", "X", "--year", "1869", message="year 1869 is outside 1870-2100"),
    _flag("add-year-text", "add", "X", "--year", "abc", message="year 'abc' is not a whole number"),
    _flag("add-title-empty", "add", "", message="title is empty"),
    _flag("add-title-nul", "add", "a\x00b", message="contains control characters"),
    _flag("add-title-newline", "add", "line\nforged: ok", message="contains control characters"),
    _flag("add-title-escape", "add", "\x1b[31mred", message="contains control characters"),
    _flag("add-title-c1", "add", "a\x85b", message="contains control characters"),
    _flag("add-title-only-invisible", "add", "\u200b\u202e", message="holds only invisible characters"),
    _flag("add-title-too-long", "add", "x" * 501, message="title is longer than 500 characters"),
    _flag("add-imdb-short", "add", "X", "--imdb-id", "tt123", message="is not an IMDb id"),
    _flag("add-imdb-injection", "add", "X", "--imdb-id", "tt0137523' OR 1=1", message="is not an IMDb id"),
    _flag("add-cert-long", "add", "X", "--uk-certification", "12345678901", message="longer than 10 characters"),
    _flag("add-cert-escape", "add", "X", "--uk-certification", "1\x1b", message="contains control characters"),
    _flag("limit-zero", "normalize-uk-certifications", "--limit", "0", message="'0' must be greater than 0"),
    _flag("limit-huge", "normalize-uk-certifications", "--limit", HUGE, message="must be at most 9223372036854775807"),
    _flag("limit-fraction", "normalize-uk-certifications", "--limit", "1.5", message="is not a whole number"),
    _flag("limit-text", "normalize-uk-certifications", "--limit", "all", message="is not a whole number"),
    _flag("history-dvd-huge", "history", "--dvd", HUGE, message="--dvd: '99999999999999999999999' must be at most"),
    _flag("history-dvd-zero", "history", "--dvd", "0", message="must be greater than 0"),
    _flag("history-since-garbage", "history", "--since", "yesterday", message="is not an ISO 8601 time"),
    _flag("history-since-year-0", "history", "--since", "0001-01-01T00:00:00+05:00",
          message="is outside the years 1-9999 in UTC"),
    _flag("history-type-unknown", "history", "--type", "DropTable", message="unknown event type 'DropTable'"),
    _flag("export-as-of-year-0", "export", "dvds", "--as-of", "0001-01-01T00:00:00+05:00",
          message="is outside the years 1-9999 in UTC"),
    _flag("export-as-of-year-10000", "export", "dvds", "--as-of", "9999-12-31T23:59:59-01:00",
          message="is outside the years 1-9999 in UTC"),
    _flag("export-as-of-long", "export", "dvds", "--as-of", "x" * 5000, message="is not an ISO 8601 time"),
    _flag("export-table-unknown", "export", "sqlite_master", message="invalid choice"),
    _flag("export-format-unknown", "export", "dvds", "--format", "xlsx", message="invalid choice"),
    _flag("replay-as-of-without-into", "replay", "--as-of", "2026-01-01", message="--as-of needs --into FILE"),
    _flag("pages-zero", "populate-db", "--pages", "0", message="must be greater than 0"),
    _flag("pages-huge", "populate-db", "--pages", HUGE, message="must be at most"),
    _flag("region-long", "update-watch-providers", "--region", "GBR", message="not a two-letter region code"),
    _flag("sandbox-port-70000", "sandbox", "--port", "70000", message="'70000' must be at most 65535"),
    _flag("sandbox-port-zero", "sandbox", "--port", "0", message="must be greater than 0"),
    _flag("sandbox-latency-nan", "sandbox", "--latency-s", "nan", message="'nan' is not a finite number"),
    _flag("sandbox-latency-inf", "sandbox", "--latency-s", "inf", message="'inf' is not a finite number"),
    _flag("sandbox-fault-rate-2", "sandbox", "--fault-5xx-rate", "2", message="fault_5xx_rate must be a number"),
    _flag("sandbox-synthetic-huge", "sandbox", "--synthetic-count", "99999999999",
          message="synthetic_count must be an integer from 0 to"),
    _flag("cancel-unknown", "cancel", "nope", message="no command 'nope'"),
]


def _env(id_: str, env: dict[str, str], message: str, secret: str | None = None) -> Case:
    return Case(id_, ("status",), message, env=env, secret=secret)


ENV_CASES = [
    _env("env-concurrency-huge", {"TRACKER_CONCURRENCY": HUGE}, "TRACKER_CONCURRENCY: concurrency must be from 1"),
    _env("env-concurrency-zero", {"TRACKER_CONCURRENCY": "0"}, "concurrency must be from 1 to 256, got '0'"),
    _env("env-concurrency-257", {"TRACKER_CONCURRENCY": "257"}, "concurrency must be from 1 to 256"),
    _env("env-concurrency-fraction", {"TRACKER_CONCURRENCY": "1.5"}, "concurrency must be a whole number"),
    _env("env-concurrency-true", {"TRACKER_CONCURRENCY": "true"}, "concurrency must be a whole number"),
    _env("env-rate-inf", {"TRACKER_TMDB_RATE": "inf"}, "TRACKER_TMDB_RATE: tmdb_rate_per_s must be a finite number"),
    _env("env-rate-nan", {"TRACKER_TMDB_RATE": "nan"}, "tmdb_rate_per_s must be a finite number, got 'nan'"),
    _env("env-rate-overflow", {"TRACKER_TMDB_RATE": "1e309"}, "tmdb_rate_per_s must be a finite number"),
    _env("env-rate-negative", {"TRACKER_YTS_RATE": "-1"}, "TRACKER_YTS_RATE: yts_rate_per_s must be greater than 0"),
    _env("env-rate-zero", {"TRACKER_YTS_RATE": "0"}, "yts_rate_per_s must be greater than 0"),
    _env("env-rate-text", {"TRACKER_TMDB_RATE": "fast"}, "tmdb_rate_per_s must be a number, got 'fast'"),
    _env("env-timeout-inf", {"TRACKER_TIMEOUT_S": "inf"}, "TRACKER_TIMEOUT_S: timeout_s must be a finite number"),
    _env("env-retries-zero", {"TRACKER_RETRY_ATTEMPTS": "0"}, "retry_attempts must be from 1 to 100"),
    _env("env-url-password", {"TMDB_BASE_URL": f"http://user:{PASSWORD}@host/3"},
         "TMDB_BASE_URL: tmdb_base_url must not hold a user name or password ('http://***@host/3')", PASSWORD),
    _env("env-image-url-password", {"TMDB_IMAGE_BASE_URL": f"https://me:{PASSWORD}@img.example/t/p"},
         "must not hold a user name or password", PASSWORD),
    _env("env-url-ftp", {"YTS_BASE_URL": "ftp://yts.example/api"}, "must be an http:// or https:// URL with a host"),
    _env("env-url-no-host", {"TMDB_BASE_URL": "http:///3"}, "must be an http:// or https:// URL with a host"),
    _env("env-url-javascript", {"TMDB_IMAGE_BASE_URL": "javascript:alert(1)"}, "must be an http:// or https:// URL"),
    _env("env-url-bad-port", {"TMDB_BASE_URL": "http://host:99999/3"}, "is not a valid URL"),
    _env("env-url-query-key", {"TMDB_BASE_URL": "http://host/3?api_key=abcdef"}, "must be a plain base URL"),
    _env("env-url-space", {"YTS_BASE_URL": "http://host/api v2"}, "must be a plain base URL"),
    _env("env-key-with-space", {"TMDB_API_KEY": f"{PASSWORD} x"}, "(value not shown)", PASSWORD),
    _env("env-token-newline", {"TMDB_ACCESS_TOKEN": f"{PASSWORD}\nX-Evil: 1"}, "(value not shown)", PASSWORD),
    _env("env-home-file", {"TRACKER_HOME": "{file}"}, "TRACKER_HOME: '{file}' is a file, not a folder"),
]


def _toml(id_: str, text: str, message: str, secret: str | None = None, command: str = "status") -> Case:
    return Case(id_, (command,), message, toml=text, secret=secret)


def _schedule(id_: str, entry: str, message: str) -> Case:
    return _toml(id_, f'[[schedule]]\ncommand = "normalize-uk-certifications"\n{entry}', message,
                 command="schedule")


TOML_CASES = [
    _toml("toml-concurrency-true", "concurrency = true", "concurrency must be a whole number, got True (true/false)"),
    _toml("toml-concurrency-huge", f"concurrency = {HUGE}", "concurrency must be from 1 to 256"),
    _toml("toml-concurrency-fraction", "concurrency = 4.5", "concurrency must be a whole number, got 4.5"),
    _toml("toml-concurrency-list", "concurrency = [4]", "concurrency must be a whole number, got [4] (a list)"),
    _toml("toml-rate-inf", "tmdb_rate_per_s = inf", "tmdb_rate_per_s must be a finite number, got inf"),
    _toml("toml-rate-nan", "tmdb_rate_per_s = nan", "tmdb_rate_per_s must be a finite number, got nan"),
    _toml("toml-rate-negative", "yts_rate_per_s = -2.0", "yts_rate_per_s must be greater than 0"),
    _toml("toml-rate-bool", "yts_rate_per_s = false", "yts_rate_per_s must be a number, got False"),
    _toml("toml-rate-table", "[tracker.tmdb_rate_per_s]\nx = 1", "tmdb_rate_per_s must be a number"),
    _toml("toml-url-list", 'tmdb_base_url = ["a", "b"]', "must be a URL as text, got ['a', 'b'] (a list)"),
    _toml("toml-url-number", "tmdb_base_url = 5", "tmdb_base_url must be a URL as text, got 5"),
    _toml("toml-url-password", f'tmdb_base_url = "http://u:{PASSWORD}@h/3"', "must not hold a user name or password",
          PASSWORD),
    _toml("toml-key-number", "tmdb_api_key = 12345", "tmdb_api_key must be text, got a whole number (value not shown)"),
    _toml("toml-key-list", f'tmdb_api_key = ["{PASSWORD}"]', "tmdb_api_key must be text", PASSWORD),
    _toml("toml-key-in-url-setting", f'tmdb_api_key = "{PASSWORD}x9"\nyts_base_url = "{PASSWORD}x9"',
          "yts_base_url must be an http:// or https:// URL with a host, got '***'", PASSWORD),
    _toml("toml-unknown", "colour = 'blue'", "unknown setting 'colour'"),
    _toml("toml-broken", "concurrency = ", "cannot read settings"),
    _toml("toml-tracker-not-table", "tracker = 5", "[tracker] must be a table of settings"),
    _schedule("schedule-every-huge", f'every = "{HUGE}w"', "every must be at most 520w"),
    _schedule("schedule-every-zero", 'every = "0d"', "every must be a duration such as"),
    _schedule("schedule-every-number", "every = 86400", "every must be a duration such as"),
    _schedule("schedule-limit-huge", f'every = "1d"\nargs = ["--limit", "{HUGE}"]', "must be at most"),
    _schedule("schedule-args-string", 'every = "1d"\nargs = "--limit 5"', "args must be a list of flags"),
]

ALL = FLAG_CASES + ENV_CASES + TOML_CASES
