"""sipp scenarios: a citizen (UAC, RFC 2833 keys from sipp's own pcaps) and agents (UAS answering after a set
ring time, hanging up first, or busy). Shared by the live tests and bench/vs_mod_callcenter.py; each scenario is
written with its timings baked in, since sipp cannot take them as parameters."""

from __future__ import annotations

from pathlib import Path

PCAPS = Path("/usr/share/sip-tester")

_CONTACT = "      Contact: <sip:agent@[local_ip]:[local_port]>\n"
_SDP_TYPE = "      Content-Type: application/sdp\n"
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
_WIDEBAND_SDP = _SDP.replace("RTP/AVP 0 101", "RTP/AVP 9 101").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:9 G722/8000")
"""A wideband phone's offer: G.722 alone (16 kHz audio; 8000 is its RTP clock, as RFC 3551 keeps it)."""


def _respond(status: str, *, cseq: str = "[last_CSeq:]", extra: str = "", body: str = "",
             to: str = "[last_To:];tag=[pid]SIPpTag01[call_number]") -> str:
    """An agent phone's response to the request just received (``cseq`` for a reply to the earlier INVITE; ``to``
    as received for a request within the dialog, which already carries the phone's tag)."""
    return f"""<send{' retrans="500"' if body else ''}><![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      {to}
      [last_Call-ID:]
      {cseq}
{extra}      Content-Length: {'[len]' if body else '0'}
{chr(10) + body if body else ''}    ]]></send>"""


def _key(digit: str) -> str:
    """A key (RFC 2833, sipp's pcap), or, given a pcap's path, speech (started: the steps after it go on at once)."""
    if digit.startswith("/"):
        return f'<nop><action><exec play_pcap_audio="{digit}"/></action></nop>'
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    return f'<nop><action><exec play_pcap_audio="{PCAPS}/dtmf_2833_{name}.pcap"/></action></nop>'


def citizen(steps: list[tuple[str, int]], hangs_up: bool = True, wideband: bool = False) -> str:
    """A caller who, once answered, presses keys, speaks or waits (("1", 0), ("/x.pcap", 0), ("", 3000) = press 1,
    start saying what x.pcap holds, wait 3 s), then hangs up; or, with ``hangs_up=False``, waits for the switch to
    hang up (after a survey). ``wideband``: the phone offers G.722 alone (its pcaps must be G.722)."""
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

{_WIDEBAND_SDP if wideband else _SDP}    ]]></send>
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
    """An agent's phone: rings ``ring_ms``, answers, then waits for the caller's BYE (answering the switch's
    re-INVITEs meanwhile: hold and resume), or with ``talk_ms`` hangs up first after talking that long."""
    ending = (f'<pause milliseconds="{talk_ms}"/><send><![CDATA[\n      BYE [$contact] SIP/2.0\n      '
              'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      '
              'From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\n      To:[$caller]\n      '
              '[last_Call-ID:]\n      CSeq: 2 BYE\n      Contact: <sip:agent@[local_ip]:[local_port]>\n'
              '      Max-Forwards: 70\n      Content-Length: 0\n    ]]></send><recv response="200"/>') \
        if talk_ms is not None else \
        ('<label id="1"/><recv request="INVITE" optional="true" next="2"/>'
         '<recv request="BYE"/><send><![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      '
         '[last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]></send>'
         '<nop next="3"/><label id="2"/>' + _respond("200 OK", extra=_CONTACT + _SDP_TYPE, body=_SDP, to="[last_To:]")
         + '<recv request="ACK" next="1"/><label id="3"/>')
    return _answering("agent", ring_ms, ending, remember=talk_ms is not None)  # sipp refuses unused variables


_REMEMBER = ('<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>'
             '<ereg regexp="sip:[^&gt;]*" search_in="hdr" header="Contact:" assign_to="contact"/></action>')
"""Keep the switch's From and Contact of the INVITE, to send requests of the phone's own in the dialog."""


def _answering(name: str, ring_ms: int, then: str, remember: bool) -> str:
    """An agent phone's scenario: the INVITE rings ``ring_ms``, is answered, then ``then``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="{name}">
  <recv request="INVITE" rrs="true">{_REMEMBER if remember else ""}</recv>
  {_respond("180 Ringing", extra=_CONTACT)}
  <pause milliseconds="{ring_ms}"/>
  {_respond("200 OK", extra=_CONTACT + _SDP_TYPE, body=_SDP)}
  <recv request="ACK" optional="false"/>
  {then}
</scenario>
"""


PHONE_TAG = "hotline-own-call"
"""The From tag of an agent phone's own call (``phone_call``), which its attended transfer names in Replaces."""


def agent_transferring(ring_ms: int, talk_ms: int, replaces: str) -> str:
    """An agent's phone that answers, talks ``talk_ms``, then transfers the caller attended: a REFER whose Refer-To
    names its own other call (Call-ID ``replaces``, made by ``phone_call``) in Replaces, as a softphone's transfer
    key does after a consultation; it takes the switch's NOTIFY and BYE, as a phone whose call was replaced."""
    refer_to = f"sip:110@[local_ip]?Replaces={replaces.replace('@', '%40')}%3Bto-tag%3D0%3Bfrom-tag%3D{PHONE_TAG}"
    in_dialog = ("      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
                 "      From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]\n      To:[$caller]\n"
                 "      [last_Call-ID:]\n")
    refer = (f'<pause milliseconds="{talk_ms}"/><send><![CDATA[\n      REFER [$contact] SIP/2.0\n{in_dialog}'
             f'      CSeq: 2 REFER\n      Contact: <sip:agent@[local_ip]:[local_port]>\n      Refer-To: <{refer_to}>\n'
             '      Max-Forwards: 70\n      Content-Length: 0\n    ]]></send><recv response="202"/>'
             '<label id="1"/><recv request="NOTIFY" optional="true" next="2"/><recv request="BYE"/>'
             + _respond("200 OK", to="[last_To:]") + '<nop next="3"/><label id="2"/>' + _respond("200 OK", to="[last_To:]")
             + '<nop next="1"/><label id="3"/>')
    return _answering("agent transferring attended", ring_ms, refer, remember=True)


def phone_call(number: str, user: str) -> str:
    """An agent's phone calling ``number`` itself as SIP user ``user`` (digest authentication with sipp's -au/-ap):
    the consultation before an attended transfer. It waits for the switch's BYE, as a call an attended transfer
    replaced ends."""
    def invite(cseq: int, auth: str = "") -> str:
        return f"""<send retrans="500"><![CDATA[
      INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag={PHONE_TAG}
      To: <sip:{number}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
{auth}      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}    ]]></send>"""

    def ack(cseq: int, uri: str, branch: str) -> str:
        return f"""<send><![CDATA[
      ACK {uri} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: <sip:{user}@[remote_ip]>;tag={PHONE_TAG}
      To: <sip:{number}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="agent phone's own call">
  {invite(1)}
  <recv response="100" optional="true"/>
  <recv response="401" auth="true" optional="true" next="1"/>
  <recv response="407" auth="true"/>
  <label id="1"/>
  {ack(1, f"sip:{number}@[remote_ip]:[remote_port]", "[branch-4]")}
  {invite(2, "      [authentication]" + chr(10))}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  {ack(2, "[next_url]", "[branch]")}
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
</scenario>
"""


def agent_keying(ring_ms: int, keys: list[tuple[str, int]]) -> str:
    """An agent's phone that answers, then for each (keys, pause_ms) sends the RFC 2833 keys (``*3``, half a
    second apart: two pcaps played at once overlap) and pauses; then, as ``agent``, answers re-INVITEs (hold and
    resume: none may come during a pause) until the BYE."""
    steps = "".join('<pause milliseconds="500"/>'.join(_key(digit) for digit in digits) +
                    (f'<pause milliseconds="{pause}"/>' if pause else "") for digits, pause in keys)
    return agent(ring_ms).replace('  <recv request="ACK" optional="false"/>\n',
                                  f'  <recv request="ACK" optional="false"/>\n  {steps}\n', 1)


def busy_agent() -> str:
    """An agent's phone that refuses the call (486 Busy Here): the offer fails with USER_BUSY."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="busy agent">
  <recv request="INVITE"/>
  {_respond("486 Busy Here")}
  <recv request="ACK"/>
</scenario>
"""


def unanswered_agent() -> str:
    """An agent's phone that rings until the switch gives up (CANCEL): the offer fails with no answer."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="agent who does not answer">
  <recv request="INVITE"/>
  {_respond("180 Ringing")}
  <recv request="CANCEL"/>
  {_respond("200 OK")}
  {_respond("487 Request Terminated", cseq="CSeq: [cseq] INVITE")}
  <recv request="ACK"/>
</scenario>
"""
