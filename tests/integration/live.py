"""What the live tests share besides fixtures: the sipp ports and reading back the engine's records."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import gevent
import pytest
from gevent import socket

from calls.record import CallTimeline
from engine.process import Engine
from recorder.archive import Archived
from softphone import Softphone, eventually
from tickets.store import TicketStore

AGENT_PORT, AGENT_MEDIA, CITIZEN_PORT, CITIZEN_MEDIA = 5091, 6091, 5071, 6071
SECOND_AGENT_PORT, SECOND_AGENT_MEDIA = 5092, 6092
UNIT_PORT, UNIT_MEDIA = 5093, 6097  # sipp takes a media port and the two above it
OWN_CALL_PORT, OWN_CALL_MEDIA = 5094, 6111
"""An agent phone's own call (to the switch's internal profile, as a SIP user), made beside its queue call."""
UNITS = {"directory": {"110": {"name": "公安 110", "number": "110", "trunk": "sofia/gateway/units",
                               "caller_id": "12345", "mode": "handover"}}}
"""A linkage directory whose 110 is the sipp UAS on UNIT_PORT, behind the switch's gateway ``units``."""
SUPERVISOR_TOKEN = "live-test-supervisor-token-5b1e"
"""The live engines' API token (role supervisor)."""


def records(engine: Engine, count: int) -> list[CallTimeline]:
    """The test's calls, once the engine has handled their hang-ups and stored their records."""
    deadline = time.monotonic() + 15
    while len(engine.records) < count and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the hang-up events are on their way from the switch
    assert engine.writer.flush(15)
    assert len(engine.records) == count
    return sorted(engine.records, key=lambda record: record.switch_entry_ms)


def stored(url: str, count: int) -> list[CallTimeline]:
    """The records in the ticket store at ``url`` (written by an engine in another process), once there are
    ``count``, in order of entry."""
    store, deadline = TicketStore(url), time.monotonic() + 15
    while len(store.call_ids()) < count and time.monotonic() < deadline:
        gevent.sleep(0.05)  # the last hang-up is on its way from the switch to the engine
    return [store.get(call_id) for call_id in store.call_ids()]


def archived(engine: Engine, call_id: str, kind: str = "call") -> tuple[Archived, int]:
    """The call's recording of ``kind`` once archived (Opus, by the engine after the call), and its channel count
    (ffprobe)."""
    gevent.joinall(engine.recording.archiving, timeout=60)
    [kept] = [item for item in engine.tickets.recordings(call_id) if item.kind == kind]
    assert kept.problem is None and kept.codec == "opus", kept
    shown = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", kept.path], capture_output=True,
                           check=True)
    return kept, json.loads(shown.stdout)["streams"][0]["channels"]


def only_record(engine: Engine) -> CallTimeline:
    return records(engine, 1)[0]


def call(sipp, tmp_path: Path, steps: list[tuple[str, int]], name: str = "citizen", hangs_up: bool = True):
    return sipp.run(sipp.citizen(steps, hangs_up), tmp_path, name, CITIZEN_PORT, CITIZEN_MEDIA,
                    target="127.0.0.1:5080")




def api(engine: Engine, method: str, path: str, body: dict | None = None, token: str = SUPERVISOR_TOKEN) -> object:
    """The engine's agent API, as a supervisor (of the whole centre, unless ``token`` says otherwise)."""
    data = json.dumps(body or {}).encode()
    with socket.create_connection(engine.api.address, timeout=5) as sock:
        sock.sendall(f"{method} {path} HTTP/1.0\r\nAuthorization: Bearer {token}\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    return json.loads(reply.partition(b"\r\n\r\n")[2])


def dial_queue(citizen: Softphone, engine: Engine) -> None:
    """The citizen's phone dials 12345 and, once the engine has the call, presses 1 for a human."""
    before = len(engine.book.calls)
    citizen.dial("12345")
    assert eventually(lambda: len(engine.book.calls) > before)
    citizen.command("sndcode", "1")


def with_units(live_engine, answer_timeout: float = 30, **engine: object) -> Engine:
    """An engine (``engine``: live_engine's arguments) whose directory sends 110 through the gateway ``units``;
    the test is skipped without that gateway (tests/integration/test_call_control_live.py says how to add it)."""
    started = live_engine(linkage={**UNITS, "answer_timeout": answer_timeout}, **engine)
    if "Invalid Gateway" in started.link.api("sofia status gateway units"):
        pytest.skip("the switch has no gateway 'units' to 127.0.0.1:5093 (see test_call_control_live.py)")
    return started
