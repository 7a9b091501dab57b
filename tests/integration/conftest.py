"""Integration tests against a live FreeSWITCH, selected by environment variables.

    HOTLINE_FS_HOST=127.0.0.1 HOTLINE_FS_PORT=8021 HOTLINE_FS_PASSWORD=... pytest tests/integration

Without HOTLINE_FS_HOST every test here is skipped with that reason; with it, an unreachable switch fails.
The switch must have the configuration ``hotline switch-conf render`` writes (the 12345 route parks calls).

sipp plays the people: a citizen (UAC, RFC 2833 keys from sipp's own pcaps) and agents (UAS that answer after
a set ring time). Each scenario is written per test with its timings and run as a subprocess on gevent, so the
engine under test keeps running while sipp plays its part.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
from gevent import subprocess

from esl import Backoff, SwitchLink

LIVE = os.environ.get("HOTLINE_FS_HOST")
HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``integration``; skip them, saying why, when no switch is configured."""
    skip = pytest.mark.skip(reason="no live FreeSWITCH: set HOTLINE_FS_HOST, HOTLINE_FS_PORT, HOTLINE_FS_PASSWORD")
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.integration)
            if not LIVE:
                item.add_marker(skip)


@pytest.fixture
def live_link() -> Iterator[SwitchLink]:
    link = SwitchLink(
        os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")), os.environ["HOTLINE_FS_PASSWORD"],
        events=["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE", "DTMF"],
        backoff=Backoff(initial=0.1, maximum=1.0),
    )
    link.start()
    link.wait_connected(10)
    yield link
    link.stop()


@pytest.fixture
def sipp() -> SimpleNamespace:
    """``sipp.citizen(steps)``, ``sipp.agent(ring_ms, talk_ms)``: scenarios; ``sipp.run(...)``: start one."""
    return SimpleNamespace(citizen=citizen, agent=agent, busy_agent=busy_agent, run=run)


PCAPS = Path("/usr/share/sip-tester")
SIPP = shutil.which("sipp")

_SDP = """\
      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
"""


def _key(digit: str) -> str:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    return f'<nop><action><exec play_pcap_audio="{PCAPS}/dtmf_2833_{name}.pcap"/></action></nop>'


def citizen(steps: list[tuple[str, int]], hangs_up: bool = True) -> str:
    """A caller who, once answered, presses keys or waits (("1", 0), ("", 3000) = press 1, wait 3 s), then hangs
    up; or, with ``hangs_up=False``, waits for the switch to hang up (after a survey)."""
    body = "".join(_key(key) if key else f'<pause milliseconds="{ms}"/>' for key, ms in steps)
    end = ('<send><![CDATA[\n      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n      Via: SIP/2.0/[transport] '
           '[local_ip]:[local_port];branch=[branch]\n      From: sipp <sip:13800138000@[local_ip]:[local_port]>;tag=[pid]'
           'SIPpTag00[call_number]\n      To: sut <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]\n      '
           'Call-ID: [call_id]\n      CSeq: 2 BYE\n      Contact: sip:sipp@[local_ip]:[local_port]\n      '
           'Max-Forwards: 70\n      Content-Length: 0\n    ]]></send><recv response="200" crlf="true"/>') if hangs_up \
        else ('<recv request="BYE"/><send><![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      '
              '[last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]></send>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="citizen">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:13800138000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: sut <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:13800138000@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:13800138000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: sut <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:13800138000@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  {body}
  {end}
</scenario>
"""


def agent(ring_ms: int, talk_ms: int | None = None) -> str:
    """An agent's phone: rings ``ring_ms``, answers, then waits for the caller's BYE, or with ``talk_ms`` hangs
    up first after talking that long."""
    ending = (f'<pause milliseconds="{talk_ms}"/><send><![CDATA[\n      BYE [$contact] SIP/2.0\n      '
              'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      '
              'From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\n      To:[$caller]\n      '
              '[last_Call-ID:]\n      CSeq: 2 BYE\n      Contact: <sip:agent@[local_ip]:[local_port]>\n'
              '      Max-Forwards: 70\n      Content-Length: 0\n    ]]></send><recv response="200"/>') \
        if talk_ms is not None else \
        ('<recv request="BYE"/><send><![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      '
         '[last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]></send>')
    remember = ('<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>'
                '<ereg regexp="sip:[^&gt;]*" search_in="hdr" header="Contact:" assign_to="contact"/></action>') \
        if talk_ms is not None else ""  # sipp refuses variables a scenario never uses
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="agent">
  <recv request="INVITE" rrs="true">{remember}</recv>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Length: 0
    ]]></send>
  <pause milliseconds="{ring_ms}"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:agent@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}    ]]></send>
  <recv request="ACK" optional="false"/>
  {ending}
</scenario>
"""


def busy_agent() -> str:
    """An agent's phone that refuses the call (486 Busy Here): the offer fails with USER_BUSY."""
    return """<?xml version="1.0" encoding="UTF-8"?>
<scenario name="busy agent">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
  <recv request="ACK"/>
</scenario>
"""


@dataclass
class Sipp:
    process: subprocess.Popen
    log: Path

    def wait(self, timeout: float = 90) -> int:
        return self.process.wait(timeout)


def run(scenario: str, workdir: Path, name: str, port: int, media_port: int, target: str = "",
        service: str = "12345", calls: int = 1) -> Sipp:
    """Start sipp on ``port`` with ``scenario``: one call, against ``target`` (a UAC) or waiting for one (a UAS)."""
    assert SIPP, "sipp is not installed: apt install sip-tester"
    path = workdir / f"{name}.xml"
    path.write_text(scenario, encoding="utf-8")
    log = workdir / f"{name}.log"
    args = [SIPP, *([target] if target else []), "-sf", str(path), "-i", "127.0.0.1", "-p", str(port),
            "-mi", "127.0.0.1", "-mp", str(media_port), "-m", str(calls), "-s", service, "-timeout", "90s",
            "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(log)]
    return Sipp(subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT), log)
