"""The supervisors' console in a real browser: Playwright (PyPI) driving Debian's Chromium against the engine on the
double. The floor appears, follows an agent's change within a second, a button reaches the switch, a bad or an
agent's token sees nothing, and the page logs no console error.

Playwright's synchronous API blocks its thread, and the engine and the double are greenlets of this one: the
browser runs in a thread of its own (a one-thread pool, so every Playwright call is made from the same thread), and
the test waits for each browser step cooperatively, while the engine serves the page."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from gevent.threadpool import ThreadPool

from tests.acd.test_queueing import queued_caller
from tests.acd.test_supervision import AGENT as AGENT_TOKEN, TEAM_A as TOKEN, supervised

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt install chromium)")


class Browser:
    """One Chromium page, driven from its own thread; ``run(fn, ...)`` calls ``fn`` there and waits for it."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.pool = ThreadPool(1)
        self.errors: list[str] = []
        self.playwright = self.run(lambda: sync_playwright().start())
        self.browser = self.run(lambda: self.playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]))
        self.page = self.run(lambda: self.browser.new_page(viewport={"width": 1400, "height": 900}))
        self.run(lambda: self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text)))
        self.run(lambda: self.page.on("pageerror", lambda e: self.errors.append(str(e))))
        self.requests: list[str] = []
        self.run(lambda: self.page.on("request", lambda r: self.requests.append(r.url)))

    def run(self, step: Callable[[], Any]) -> Any:
        return self.pool.spawn(step).get()

    def login(self, url: str, token: str) -> None:
        self.run(lambda: self.page.goto(url))
        self.run(lambda: self.page.fill("#token", token))
        self.run(lambda: self.page.click("#login button"))

    def close(self) -> None:
        self.run(self.browser.close)
        self.run(self.playwright.stop)
        self.pool.kill()


@pytest.fixture
def browser() -> Iterator[Browser]:
    opened = Browser()
    yield opened
    opened.close()


@pytest.fixture
def engine(switch, make_engine):
    return supervised(switch, make_engine)


def console_url(engine) -> str:
    host, port = engine.api.address[:2]
    return f"http://{host}:{port}/console"


def test_the_floor_appears_follows_a_change_within_a_second_and_a_button_reaches_the_switch(
        switch, engine, browser: Browser, tmp_path: Path) -> None:
    browser.login(console_url(engine), TOKEN)
    page = browser.page
    browser.run(lambda: page.wait_for_selector('#agents tr[data-agent="1001"][data-state="logged_out"]', timeout=5000))
    rows = browser.run(lambda: page.eval_on_selector_all("#agents tbody tr", "rows => rows.map(r => r.dataset.agent)"))
    assert rows == ["1001"]  # team a's supervisor sees team a
    assert browser.run(lambda: page.is_hidden("#login"))
    assert browser.run(lambda: page.inner_text('#agents tr[data-agent="1001"] .state')) == "签出"
    assert browser.run(lambda: page.inner_text("#queues tbody")).startswith("general")

    engine.queueing.command("1001", "login")  # the agent logs in: the console shows it within a second
    browser.run(lambda: page.wait_for_selector('#agents tr[data-agent="1001"][data-state="ready"]', timeout=1000))

    caller = queued_caller(switch, engine)
    assert switch.wait(lambda: caller.bridged_to is not None, timeout=5)
    agent_leg = caller.bridged_to
    browser.run(lambda: page.wait_for_selector('#agents tr[data-agent="1001"][data-state="on_call"]', timeout=5000))
    assert browser.run(lambda: page.inner_text('#agents tr[data-agent="1001"]')).count(caller.caller_id_number) == 1
    browser.run(lambda: page.click('#agents tr[data-agent="1001"] button[data-action="监听"]'))
    assert switch.wait(lambda: any(ch.listening == (agent_leg.uuid, False, False) for ch in switch.channels.values()
                                   if ch.name == "user/1901"), timeout=5)  # the button reached the switch
    browser.run(lambda: page.wait_for_selector('#agents tr[data-agent="1001"] button[data-action="接管"]', timeout=5000))
    browser.run(lambda: page.screenshot(path=str(tmp_path / "console.png"), full_page=True))
    assert browser.errors == []
    host = console_url(engine).split("/console")[0]
    assert all(url.startswith(host) for url in browser.requests)  # nothing leaves the machine
    assert engine.writer.flush(10)
    assert [(e.actor, e.action, e.result) for e in engine.tickets.audit()] == [("supervisor:1901", "listen", "done")]


@pytest.mark.parametrize("token", ["not-a-token-at-all-0000000000", AGENT_TOKEN])
def test_a_bad_or_an_agents_token_sees_nothing(engine, browser: Browser, token: str) -> None:
    engine.queueing.command("1001", "login")
    browser.login(console_url(engine), token)
    page = browser.page
    browser.run(lambda: page.wait_for_selector("#login-error:has-text('令牌无效')", timeout=5000))
    assert browser.run(lambda: page.is_hidden("#floor"))
    assert browser.run(lambda: page.eval_on_selector_all("#agents tbody tr", "rows => rows.length")) == 0
    assert "1001" not in browser.run(lambda: page.content()).split("<body>")[1].split("<script")[0]
    assert browser.errors == [] or all("401" in e or "403" in e for e in browser.errors)
