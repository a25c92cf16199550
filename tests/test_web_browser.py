"""The web page in a real headless Chromium: posters, live search, a DVD's timeline, live progress."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tracker.cli.main import main

WAIT_S = 20


def wait(browser, condition, timeout_s: float = WAIT_S):
    """Wait until condition(browser) is truthy; its value."""
    return WebDriverWait(browser, timeout_s, poll_frequency=0.05).until(condition)


def card_titles(browser) -> list[str]:
    """The titles the grid shows now (read in one go: the grid may be swapped at any moment)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('#results .card .title')].map(e => e.textContent)")


def test_grid_shows_every_poster(browser, web_daemon):
    """The collection page shows all 29 sample DVDs, each poster image actually loaded."""
    browser.get(web_daemon.url)
    assert len(card_titles(browser)) == 29
    loaded = wait(browser, lambda b: b.execute_script(
        "const imgs = [...document.querySelectorAll('.card img')];"
        "return imgs.every(i => i.complete) && imgs.filter(i => i.naturalWidth > 0).length;"))
    assert loaded == 29
    assert "Fight Club" in card_titles(browser)


def test_search_box_filters_as_you_type(browser, web_daemon):
    """Typing in the search box narrows the grid to matching titles without a page load."""
    browser.get(web_daemon.url)
    browser.execute_script("window.samePage = true")
    box = browser.find_element(By.ID, "search")
    box.send_keys("dune")
    wait(browser, lambda b: len(card_titles(b)) == 2)
    assert card_titles(browser) == ["Dune", "Dune"]
    assert browser.execute_script("return window.samePage") is True
    assert browser.current_url.endswith("/?search=dune")
    box.clear()
    box.send_keys("no such film")
    wait(browser, lambda b: not card_titles(b))
    assert "No title contains" in browser.find_element(By.ID, "results").text


def test_dvd_page_shows_its_timeline(browser, web_daemon):
    """Following a card leads to the DVD's page: its fields and a timeline of old -> new changes."""
    browser.get(web_daemon.url + "?search=No%20Country")
    browser.find_element(By.CSS_SELECTOR, "#results .card a").click()
    wait(browser, lambda b: "/dvds/" in b.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("No Country for Old Men")
    entries = browser.find_elements(By.CSS_SELECTOR, "#timeline .entry")
    text = [e.text for e in entries]
    assert len(entries) >= 5
    assert text[-1].splitlines()[1].startswith("load-sample-data")  # newest first: added last
    matched = next(t for t in text if "match-tmdb-ids" in t)
    assert "tmdb_id" in matched and "—" in matched and "→" in matched and "6977" in matched


def test_commands_page_shows_progress_advancing(browser, web_daemon, web_sandbox, monkeypatch, capsys):
    """During a slow refresh the commands page's progress rises on its own until completed."""
    monkeypatch.setenv("TMDB_API_KEY", web_daemon.env["TMDB_API_KEY"])
    web_sandbox.configure(latency_s=0.25)
    try:
        browser.get(web_daemon.url + "commands")
        browser.execute_script("window.samePage = true")
        assert main(["--home", str(web_daemon.home), "refresh-missing-details", "--force",
                     "--enqueue"]) == 0
        command_id = capsys.readouterr().out.split()[0]
        row = f"#commands [data-id='{command_id}']"
        field = lambda b, name: b.execute_script(  # noqa: E731
            f"const e = document.querySelector(\"{row} [data-field={name}]\"); return e && e.textContent;")
        first = wait(browser, lambda b: (p := field(b, "progress")) and not p.startswith("0") and p)
        done, total = (int(x) for x in first.split(" / "))
        assert 0 < done < total == 29
        assert field(browser, "status") == "running"
        later = wait(browser, lambda b: (p := field(b, "progress")) and int(p.split(" / ")[0]) > done and p)
        assert int(later.split(" / ")[0]) > done
        wait(browser, lambda b: field(b, "status") == "completed")
        assert field(browser, "progress") == "29 / 29"
        assert browser.execute_script("return window.samePage") is True
    finally:
        web_sandbox.configure(latency_s=0.0)
    health = json.loads(web_daemon.get("/healthz")[2])
    assert health["queue_depth"] == 0 and health["running"] == 0
