"""Logging set-up: level by flag, stderr only, and secrets masked in every rendered value."""

from __future__ import annotations

import pytest

from tracker.log import Redactor, configure_logging, get_logger, redact

SECRET = "s3cr3t-key-0123456789"


@pytest.fixture(autouse=True)
def _reset_logging():
    """Leave the default configuration behind for other tests."""
    yield
    configure_logging()


def test_redact_masks_secrets_query_keys_and_bearer_tokens() -> None:
    """Each secret, any api_key= value and any bearer token become ***."""
    text = f"GET http://h/3/movie/1?api_key=other-key&page=2 token={SECRET} Authorization: Bearer abc.DEF-1"
    cleaned = redact(text, [SECRET])
    assert SECRET not in cleaned and "other-key" not in cleaned and "abc.DEF-1" not in cleaned
    assert "api_key=***&page=2" in cleaned and "Bearer ***" in cleaned


def test_redactor_reaches_nested_and_non_string_values() -> None:
    """Dicts, lists and objects such as exceptions are cleaned too; numbers are left alone."""
    event = {"event": f"boom {SECRET}", "n": 3, "nested": {"k": [f"x{SECRET}"]}, "exc": ValueError(SECRET)}
    cleaned = Redactor([SECRET])(None, "warning", event)
    assert SECRET not in repr(cleaned)
    assert cleaned["n"] == 3 and cleaned["nested"] == {"k": ["x***"]} and cleaned["exc"] == "***"


@pytest.mark.parametrize(
    ("flags", "shown", "hidden"),
    [({}, ["warning"], ["info", "debug"]), ({"verbose": True}, ["warning", "info"], ["debug"]),
     ({"debug": True}, ["warning", "info", "debug"], [])],
    ids=["default", "verbose", "debug"],
)
def test_levels_follow_flags_and_go_to_stderr(capsys, flags, shown, hidden) -> None:
    """Warning by default, info with --verbose, debug with --debug; nothing on stdout."""
    configure_logging(secrets=[SECRET], **flags)
    log = get_logger("tracker.test")
    for level in ("debug", "info", "warning"):
        getattr(log, level)(f"line-{level}", url=f"http://h/?api_key={SECRET}")
    out, err = capsys.readouterr()
    assert out == ""
    assert SECRET not in err
    for level in shown:
        assert f"line-{level}" in err
    for level in hidden:
        assert f"line-{level}" not in err


def test_exception_tracebacks_are_redacted(capsys) -> None:
    """A traceback rendered into a log line has its secrets masked too."""
    configure_logging(secrets=[SECRET])
    try:
        raise RuntimeError(f"failed calling http://h/?api_key={SECRET}")
    except RuntimeError:
        get_logger("tracker.test").exception("crashed")
    err = capsys.readouterr().err
    assert "crashed" in err and "RuntimeError" in err and SECRET not in err


def test_a_call_below_the_level_writes_nothing_and_imports_nothing() -> None:
    """Before anything has logged, a call below the level asked for neither writes nor imports
    structlog (a replay's info line cost 55 ms so); once the level lets it through it is written."""
    import subprocess
    import sys
    code = ("import sys\nfrom tracker.log import configure_logging, get_logger\nlog = get_logger('tracker.t')\n"
            "log.info('hidden-line', a=1)\nlog.debug('hidden-too')\nprint('structlog' in sys.modules)\n"
            "configure_logging(verbose=True)\nlog.info('shown-line', a=2)\nprint('structlog' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
    assert "hidden" not in done.stderr and "shown-line" in done.stderr and "a=2" in done.stderr
