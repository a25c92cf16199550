"""Settings: command-line flag > environment variable > $TRACKER_HOME/tracker.toml > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError

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

# setting name -> (environment variable, parser); each default is the Settings field's own.
_SETTINGS: dict[str, tuple[str, Any]] = {
    "tmdb_api_key": ("TMDB_API_KEY", str),
    "tmdb_access_token": ("TMDB_ACCESS_TOKEN", str),
    "tmdb_base_url": ("TMDB_BASE_URL", str),
    "tmdb_image_base_url": ("TMDB_IMAGE_BASE_URL", str),
    "yts_base_url": ("YTS_BASE_URL", str),
    "tmdb_rate_per_s": ("TRACKER_TMDB_RATE", float),
    "yts_rate_per_s": ("TRACKER_YTS_RATE", float),
    "concurrency": ("TRACKER_CONCURRENCY", int),
    "timeout_s": ("TRACKER_TIMEOUT_S", float),
    "retry_attempts": ("TRACKER_RETRY_ATTEMPTS", int),
    "retry_base_delay_s": ("TRACKER_RETRY_BASE_DELAY_S", float),
    "http": ("TRACKER_HTTP", http_address),
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


def _parse(name: str, raw: Any, parser: Any, source: str) -> Any:
    """One setting value from a string or TOML value, or a one-line ConfigError naming its source."""
    try:
        value = parser(raw)
    except (TypeError, ValueError) as exc:
        expects = getattr(parser, "expects", f"a {parser.__name__}")
        raise ConfigError(f"{source}: {name} must be {expects}, got {raw!r}") from exc
    if parser in (int, float) and value <= 0:
        raise ConfigError(f"{source}: {name} must be greater than 0, got {raw!r}")
    if parser is str and name.endswith("_url"):
        value = value.rstrip("/")
    return value


def read_toml(path: Path) -> dict[str, Any]:
    """The whole of tracker.toml, or {} when absent; ConfigError (exit 2) if it cannot be read."""
    if not path.is_file():
        return {}
    import tomllib  # only when there is a file to read: its regexes cost start-up time
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    """The [tracker] table (or top level) of tracker.toml, or {} when absent."""
    data = read_toml(path)
    table = data.get("tracker", data)
    unknown = sorted(set(table) - set(_SETTINGS) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    return table


def load_settings(
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Resolve every setting by precedence: flags, then environment, then tracker.toml, then default."""
    env = os.environ if env is None else env
    home_raw = home if home is not None else env.get("TRACKER_HOME") or DEFAULT_HOME
    home_path = Path(home_raw).expanduser()
    toml_path = home_path / "tracker.toml"
    toml_values = _read_toml(toml_path)
    values: dict[str, Any] = {}
    for name, (env_name, parser) in _SETTINGS.items():
        if flags.get(name) is not None:
            values[name] = _parse(name, flags[name], parser, f"--{name.replace('_', '-')}")
        elif env.get(env_name):
            values[name] = _parse(name, env[env_name], parser, env_name)
        elif name in toml_values:
            values[name] = _parse(name, toml_values[name], parser, str(toml_path))
        else:
            values[name] = _DEFAULTS[name]
    return Settings(home=home_path, **values)
