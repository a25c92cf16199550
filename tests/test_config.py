"""Settings precedence: flag > environment > tracker.toml > default; bad values are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.cli.main import main
from tracker.config import load_settings
from tracker.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    """With nothing set, SPEC's defaults apply."""
    s = load_settings(home=tmp_path, env={})
    assert (s.tmdb_rate_per_s, s.yts_rate_per_s, s.concurrency) == (40.0, 2.0, 16)
    assert s.tmdb_base_url == "https://api.themoviedb.org/3"
    assert s.yts_base_url == "https://movies-api.accel.li/api/v2"
    assert s.tmdb_image_base_url == "https://image.tmdb.org/t/p"
    assert s.tmdb_api_key is None and s.db_path == tmp_path / "tracker.db"


def test_home_from_environment_and_flag(tmp_path: Path) -> None:
    """--home beats TRACKER_HOME, which beats the default."""
    env = {"TRACKER_HOME": str(tmp_path / "env")}
    assert load_settings(env=env).home == tmp_path / "env"
    assert load_settings(home=tmp_path / "flag", env=env).home == tmp_path / "flag"
    assert load_settings(env={}).home == Path("~/.local/share/tracker").expanduser()


def test_precedence_environment_over_toml_over_default(tmp_path: Path) -> None:
    """The environment beats tracker.toml, which beats the default."""
    (tmp_path / "tracker.toml").write_text('[tracker]\ntmdb_rate_per_s = 10\nconcurrency = 4\n'
                                           'yts_base_url = "http://yts.example/api/v2/"\n')
    s = load_settings(home=tmp_path, env={"TRACKER_CONCURRENCY": "8"})
    assert s.tmdb_rate_per_s == 10.0 and s.concurrency == 8
    assert s.yts_base_url == "http://yts.example/api/v2"  # trailing slash trimmed
    assert load_settings(home=tmp_path, env={}, concurrency=2).concurrency == 2


def test_secret_hidden_from_repr(tmp_path: Path) -> None:
    """A key never shows in the settings' repr (and so in no log line that prints them)."""
    s = load_settings(home=tmp_path, env={"TMDB_API_KEY": "k-123-secret"})
    assert s.tmdb_api_key == "k-123-secret" and "k-123-secret" not in repr(s)
    assert s.secrets() == ["k-123-secret"]


@pytest.mark.parametrize("env, message", [
    ({"TRACKER_TMDB_RATE": "fast"}, "TRACKER_TMDB_RATE: tmdb_rate_per_s must be a number, got 'fast'"),
    ({"TRACKER_CONCURRENCY": "0"}, "TRACKER_CONCURRENCY: concurrency must be from 1 to 256, got '0'"),
])
def test_bad_environment_value(tmp_path: Path, env: dict, message: str) -> None:
    """A bad value names the variable and what is wrong."""
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, env=env)
    assert str(info.value) == message


def test_bad_toml_is_exit_2_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """A broken or unknown setting in tracker.toml is a one-line error with exit 2."""
    monkeypatch.delenv("TRACKER_HOME", raising=False)
    (tmp_path / "tracker.toml").write_text("colour = 'blue'\n")
    assert main(["--home", str(tmp_path), "status"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tracker status: error: {tmp_path / 'tracker.toml'}: unknown setting 'colour'"


def test_read_commands_write_no_database(tmp_path: Path, capsys) -> None:
    """export and status on a home with no database print nothing held and create no file."""
    home = tmp_path / "fresh"
    assert main(["--home", str(home), "export", "dvds"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["--home", str(home), "status"]) == 0
    assert not (home / "tracker.db").exists()


def test_unknown_command_and_flag_are_one_line(tmp_path: Path, capsys) -> None:
    """An unknown command or flag is one line naming it, exit 2, and nothing is written."""
    with pytest.raises(SystemExit) as info:
        main(["--home", str(tmp_path), "bogus"])
    assert info.value.code == 2
    assert capsys.readouterr().err == "tracker: error: unknown command 'bogus' (see tracker --help)\n"
    assert main(["--home", str(tmp_path), "add", "Alien", "--bogus"]) == 2
    assert capsys.readouterr().err == "tracker add: error: unrecognized arguments: --bogus\n"
    assert not (tmp_path / "tracker.db").exists()
