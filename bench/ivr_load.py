"""1,000 callers at once through the IVR on the FreeSWITCH double, everything over real ESL.

    python bench/ivr_load.py [--callers 1000] [--timeout 300]

The double runs in its own process and places every call at the same moment, each caller with a key script:
silence (straight to a human), a menu key, a sub-menu, back and down again, a ticket lookup then a key, or a
voicemail. 1,000 agents answer at once, and a caller hangs up as soon as they are bridged. A call counts as
completed when its record in the engine has the path and the end its script should give; anything else, or no
record before the timeout, is failed. Engine CPU is this process's CPU time over the run, per call.
Last line: ``concurrent=<n> engine_cpu_ms_per_call=<x> completed=<n> failed=<n>``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import tempfile
import time
from pathlib import Path

import gevent

import config
from engine.process import Engine
from engine.link import switch_link
from config.ivr import Back, Menu, ToMenu, ToQueue
from on_the_double import close_double, drive, open_double, settings_for
from switch_conf.render import PUBLIC_DIALPLAN, render
from telemetry import logs

PASSWORD = "bench-password-456"
TICKET = "2026112200017"
SCRIPTS: list[tuple[str, list[str], str]] = [
    ("", ["menu:main", "timeout", "default"], "answered"),
    ("1", ["menu:main", "key:1"], "answered"),
    ("0*01", ["menu:main", "key:0", "menu:more", "key:*", "menu:main", "key:0", "menu:more", "key:1"], "answered"),
    (f"3{TICKET}#1", ["menu:main", "key:3", "lookup:processing", "key:1"], "answered"),
    ("8#", ["menu:main", "key:8", "voicemail"], "voicemail"),
]
"""(keys the caller presses, the IVR path the record must show, its exit reason)."""
MORE = Menu(prompt="choice", keys={"1": ToQueue(do="queue", queue="general", priority=1), "*": Back(do="back")})
"""A second level under key 0 of the default main menu."""


def _switch_process(pipe: multiprocessing.connection.Connection, callers: int, timeout: float, dialplan: str) -> None:
    """The double (running the rendered dialplan) and its citizens: every call placed at once; a caller hangs up
    once bridged to an agent."""
    switch = open_double(pipe, PASSWORD, dialplan, [f"a{n:04d}" for n in range(callers)])
    calls = [switch.place_call(caller_id_number=f"138{n:08d}", destination_number="12345",
                               dtmf=SCRIPTS[n % len(SCRIPTS)][0]) for n in range(callers)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(call.hangup_cause is None for call in calls):
        for call in calls:
            if call.bridged_to is not None and call.hangup_cause is None:
                call.hangup()
        gevent.sleep(0.02)
    close_double(pipe, switch, [call.uuid for call in calls])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotline-ivr-bench-"))
    base = config.defaults()
    settings = settings_for(work, PASSWORD, [f"a{n:04d}" for n in range(args.callers)], {
        "menus": {"main": base.ivr.menus["main"].model_copy(update={
            "keys": {**base.ivr.menus["main"].keys, "0": ToMenu(do="menu", menu="more")}}), "more": MORE},
        "voicemail": base.ivr.voicemail.model_copy(update={"folder": str(work / "voicemail")})})
    logs.configure(settings.telemetry)
    render(settings, work / "freeswitch")
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_switch_process, args=(theirs, args.callers, args.timeout, str(work / "freeswitch" / PUBLIC_DIALPLAN)))
    process.start()
    address = ours.recv()
    engine = Engine(settings, switch_link(settings, address=address))
    engine.tickets.migrate()
    engine.tickets.set_status(TICKET, "processing", 0)
    engine.start()
    engine.link.wait_connected(10)
    uuids, cpu_s, elapsed = drive(engine, ours)
    cpu_ms = cpu_s * 1000
    process.join(10)
    completed = 0
    for n, uuid in enumerate(uuids):
        _, path, end = SCRIPTS[n % len(SCRIPTS)]
        record = engine.tickets.get(uuid)
        completed += record is not None and record.ivr_path == path and record.exit_reason == end
    engine.stop()
    failed = len(uuids) - completed
    print(f"{len(uuids)} callers at once through {len(SCRIPTS)} menu scripts: all ended in {elapsed:.1f} s; "
          f"engine CPU {cpu_ms / 1000:.1f} s")
    print(f"concurrent={len(uuids)} engine_cpu_ms_per_call={cpu_ms / len(uuids):.2f} completed={completed} "
          f"failed={failed}")


if __name__ == "__main__":
    main()
