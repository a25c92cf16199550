"""Settings: command-line flag > environment variable > $TRACKER_HOME/tracker.toml > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tracker import settings_check
from tracker.errors import ConfigError
from tracker.log import redact
from tracker.values import quote

DEFAULT_HOME = "~/.local/share/tracker"
DEFAULT_HTTP = "127.0.0.1:8765"


def http_address(raw: Any) -> str | None:
    """``HOST:PORT`` (or ``PORT``, ``:PORT``) for the web page, normalised; true: the default."""
    if raw is True:
        return DEFAULT_HTTP
    if raw is False:
        return None
    text = str(raw).strip()
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535 or any(c in host for c in "/@ "):
        raise ValueError(text)
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"


http_address.expects = "HOST:PORT such as 127.0.0.1:8765"  # type: ignore[attr-defined]

LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _one_of(*choices: str) -> Any:
    """A parser accepting one of ``choices`` (any case); its ``expects`` reads well in an error."""
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValueError(raw)
        return value
    parse.expects = f"one of {', '.join(choices)}"  # type: ignore[attr-defined]
    return parse


# setting name -> (environment variable, kind); each default is the Settings field's own. A kind
# is checked by tracker.settings_check, or is a parser of its own (the web page's address).
_SETTINGS: dict[str, tuple[str, Any]] = {
    "tmdb_api_key": ("TMDB_API_KEY", "secret"),
    "tmdb_access_token": ("TMDB_ACCESS_TOKEN", "secret"),
    "tmdb_base_url": ("TMDB_BASE_URL", "url"),
    "tmdb_image_base_url": ("TMDB_IMAGE_BASE_URL", "url"),
    "yts_base_url": ("YTS_BASE_URL", "url"),
    "tmdb_rate_per_s": ("TRACKER_TMDB_RATE", "rate"),
    "yts_rate_per_s": ("TRACKER_YTS_RATE", "rate"),
    "concurrency": ("TRACKER_CONCURRENCY", "concurrency"),
    "timeout_s": ("TRACKER_TIMEOUT_S", "seconds"),
    "retry_attempts": ("TRACKER_RETRY_ATTEMPTS", "attempts"),
    "retry_base_delay_s": ("TRACKER_RETRY_BASE_DELAY_S", "seconds"),
    "http": ("TRACKER_HTTP", http_address),
    # Logs go to stderr; a daemon logs at info unless told otherwise, other commands at warning.
    "log_format": ("TRACKER_LOG_FORMAT", _one_of(*LOG_FORMATS)),
    "log_level": ("TRACKER_LOG_LEVEL", _one_of(*LOG_LEVELS)),
}
SECRET_SETTINGS = ("tmdb_api_key", "tmdb_access_token")
# Keys of tracker.toml that other modules read themselves (the daemon's schedule).
SECTIONS = ("schedule",)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; secrets are hidden from repr so they never reach a log line."""

    home: Path
    tmdb_api_key: str | None = field(default=None, repr=False)
    tmdb_access_token: str | None = field(default=None, repr=False)
    tmdb_base_url: str = "https://api.themoviedb.org/3"
    tmdb_image_base_url: str = "https://image.tmdb.org/t/p"
    yts_base_url: str = "https://movies-api.accel.li/api/v2"
    tmdb_rate_per_s: float = 40.0
    yts_rate_per_s: float = 2.0
    concurrency: int = 16
    timeout_s: float = 30.0
    retry_attempts: int = 5
    retry_base_delay_s: float = 0.5
    http: str | None = None  # HOST:PORT the daemon serves its web page on; None: no web page
    log_format: str = "console"
    log_level: str | None = None

    @property
    def db_path(self) -> Path:
        """The event log and read tables."""
        return self.home / "tracker.db"

    @property
    def posters_dir(self) -> Path:
        """Where posters are saved."""
        return self.home / "media" / "posters"

    @property
    def logos_dir(self) -> Path:
        """Where provider logos are saved."""
        return self.home / "media" / "provider_logos"

    def secrets(self) -> list[str]:
        """The secret values in force, for redaction."""
        return [v for name in SECRET_SETTINGS if (v := getattr(self, name))]


_DEFAULTS = {f.name: f.default for f in fields(Settings)}


def _parse(name: str, raw: Any, kind: Any, source: str) -> Any:
    """One setting value from a string or TOML value, or a one-line ConfigError naming its source."""
    if callable(kind):  # a setting with a parser of its own
        try:
            return kind(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {name} must be {kind.expects}, got {quote(raw)}") from exc
    return settings_check.check(name, raw, kind, source)


def read_toml(path: Path) -> dict[str, Any]:
    """The whole of tracker.toml, or {} when absent; ConfigError (exit 2) if it cannot be read."""
    try:
        if not path.is_file():
            return {}
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from exc
    import tomllib  # only when there is a file to read: its regexes cost start-up time
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    """The [tracker] table (or top level) of tracker.toml, or {} when absent."""
    data = read_toml(path)
    table = data.get("tracker", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tracker] must be a table of settings")
    unknown = sorted(set(table) - set(_SETTINGS) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {quote(unknown[0])}")
    return table


def load_settings(
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Resolve every setting by precedence: flags, then environment, then tracker.toml, then default."""
    env = os.environ if env is None else env
    home_path = settings_check.home_folder(home, env, DEFAULT_HOME)
    toml_path = home_path / "tracker.toml"
    toml_values = _read_toml(toml_path)
    secrets = [str(v) for v in (*(env.get(e) for e, k in _SETTINGS.values() if k == "secret"),
                                *(toml_values.get(n) for n in SECRET_SETTINGS),
                                *(flags.get(n) for n in SECRET_SETTINGS)) if v]
    values: dict[str, Any] = {}
    try:
        for name, (env_name, kind) in _SETTINGS.items():
            if flags.get(name) is not None:
                values[name] = _parse(name, flags[name], kind, f"--{name.replace('_', '-')}")
            elif env.get(env_name):
                values[name] = _parse(name, env[env_name], kind, env_name)
            elif name in toml_values:
                values[name] = _parse(name, toml_values[name], kind, str(toml_path))
            else:
                values[name] = _DEFAULTS[name]
    except ConfigError as exc:  # a key pasted into the wrong setting is still a key
        raise ConfigError(redact(str(exc), secrets)) from None  # the unmasked one stays out of --debug
    return Settings(home=home_path, **values)
