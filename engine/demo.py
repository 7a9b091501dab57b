"""``hotline demo``: the engine on embedded defaults against the FreeSWITCH double, with simulated people.

Citizens call (Poisson arrivals), hear the greeting, press a key or not, wait in the queue and talk 1-3 s with an
agent, or give up after 30 s; agents answer after a short ring and wrap up for 1 s. Prompts and ringing are
compressed twentyfold. A wallboard is drawn while it runs, and at the end the same report ``hotline report``
prints, by queue, from the ticket store.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import tempfile
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import gevent
from pydantic import SecretStr

from acd.wallboard import wallboard
from config import Endpoint, Settings
from config.acd import Agent as AgentConfig, Token
from engine.link import switch_link
from engine.process import Engine
from fakeswitch import FakeSwitch
from reports import report_text
from switch_conf.render import PUBLIC_DIALPLAN, render
from telemetry import logs


def run_demo(settings: Settings, calls: int, agent_count: int, rate: float, seed: int, say: Callable[[str], None],
             live: bool) -> bool:
    """Run the demo, printing with ``say`` (redrawing in place when ``live``); True if every call completed."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
    console_token = secrets.token_urlsafe(24)  # this run's, to watch it in the console
    agents = {f"{1001 + n}": AgentConfig(name=f"demo agent {n + 1}", contact=f"user/{1001 + n}",
                                         skills={"general": 5}, auto_login=True) for n in range(agent_count)}
    settings = settings.model_copy(update={
        "telemetry": settings.telemetry.model_copy(update={"log_level": "warning", "listen": Endpoint("127.0.0.1", 0)}),
        "tickets": settings.tickets.model_copy(update={"url": f"sqlite:///{work}/tickets.db", "spool_dir": f"{work}/spool"}),
        "recorder": settings.recorder.model_copy(update={"folder": f"{work}/recordings"}),
        "state": settings.state.model_copy(update={"folder": f"{work}/state"}),
        "ivr": settings.ivr.model_copy(update={"voicemail": settings.ivr.voicemail.model_copy(
            update={"folder": f"{work}/voicemail"})}),
        "acd": settings.acd.model_copy(update={"agents": agents, "api": settings.acd.api.model_copy(
            update={"listen": Endpoint("127.0.0.1", 0), "tokens": [
                *settings.acd.api.tokens, Token(token=SecretStr(console_token), role="supervisor")]}), "queues": {
            name: queue.model_copy(update={"wrap_up": 1.0}) for name, queue in settings.acd.queues.items()}}),
    })
    logs.configure(settings.telemetry)
    switch = FakeSwitch(settings.switch.password.get_secret_value(), time_scale=0.05, playback_seconds=1.0)
    render(settings, work / "freeswitch")  # the double runs the dialplan a real switch would, safety net included
    switch.load_dialplan(str(work / "freeswitch" / PUBLIC_DIALPLAN))
    for agent in agents.values():
        switch.set_endpoint(agent.contact, answer_after=rng.uniform(1, 5))
    switch.start()
    engine = Engine(settings, switch_link(settings, address=switch.address))
    engine.start()
    began_ms = engine.clock()
    number = settings.centre.service_numbers[0]

    def draw(final: bool = False) -> None:
        if live and not final:
            say("\x1b[H\x1b[2J")
        for line in wallboard(engine.queueing.core, engine.clock(), tenants=list(settings.ivr.tenants)):
            say(line)

    def board() -> None:
        while True:
            gevent.sleep(0.5 if live else 5.0)
            draw()

    def citizen() -> None:
        call = switch.place_call(caller_id_number=f"13{rng.randrange(10**9):09d}", destination_number=number,
                                 dtmf=rng.choice(["", "", "1", "0"]))
        talk, patience = rng.uniform(1, 3), 30.0
        if switch.wait(lambda: call.bridged_to is not None or call.hangup_cause is not None, timeout=patience):
            gevent.sleep(talk)
        call.hangup()

    try:
        engine.link.wait_connected(10)
        say(f"{settings.centre.name}: engine linked to the FreeSWITCH double at {switch.address[0]}:"
            f"{switch.address[1]}; {agent_count} agents, {calls} citizens calling {number}")
        host, port = engine.api.address
        say(f"supervisors' console while it runs: http://{host}:{port}/console  (token {console_token})")
        drawing = gevent.spawn(board)
        citizens = []
        for _ in range(calls):
            gevent.sleep(rng.expovariate(rate))
            citizens.append(gevent.spawn(citizen))
        gevent.joinall(citizens, timeout=120)
        finished = switch.wait(lambda: not switch.channels and len(engine.records) == calls, timeout=30)
        drawing.kill()
        draw(final=True)
    finally:
        engine.stop()
        switch.stop()
    levels = engine.queueing.core.service_level
    today = [levels.today(name, engine.clock()) for name in engine.queueing.core.queues]
    stored = len(engine.tickets.call_ids())
    say(f"call records: {stored} in {settings.tickets.url}")
    say("")
    first, last = (dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(settings.centre.timezone)).date()
                   for ms in (began_ms, engine.clock()))  # the centre's day, or two if the demo ran over midnight
    say(report_text(settings, engine.tickets.engine, first, last, "queue"))
    requests = sum(counts.requests for counts in today)
    settled = sum(counts.answered + counts.abandoned for counts in today)
    return finished and requests == calls and settled == calls and stored == calls
