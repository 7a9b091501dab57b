"""The softphone helper against the live switch: registered phones call, one hears the other, one unregisters."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from softphone import PASSWORD, TONE, Softphone, eventually, peak

from esl import SwitchLink



@pytest.fixture
def phones(tmp_path: Path) -> Iterator[tuple[Softphone, Softphone]]:
    caller = Softphone("1005", PASSWORD, tmp_path, sip_port=5110, ctrl_port=4110)
    callee = Softphone("1006", PASSWORD, tmp_path, sip_port=5112, ctrl_port=4112)
    try:
        for phone in (caller, callee):
            phone.start()
        yield caller, callee
    finally:
        for phone in (caller, callee):
            phone.stop()


@pytest.fixture
def switch() -> Iterator[SwitchLink]:
    link = SwitchLink(os.environ["HOTLINE_FS_HOST"], int(os.environ.get("HOTLINE_FS_PORT", "8021")),
                      os.environ["HOTLINE_FS_PASSWORD"])
    link.start()
    link.wait_connected(10)
    yield link
    link.stop()


def registered(switch: SwitchLink, user: str) -> bool:
    """Whether the internal profile lists a registration of ``user``."""
    return re.search(rf"^User:\s+{user}@", switch.api("sofia status profile internal reg"), re.MULTILINE) is not None


def test_phones_register_call_hear_and_unregister(phones: tuple[Softphone, Softphone], switch: SwitchLink) -> None:
    caller, callee = phones
    for phone in phones:
        assert phone.wait_registered()["param"] == "200 OK"
    assert eventually(lambda: registered(switch, "1005") and registered(switch, "1006")), "not in the registrations"

    caller.dial("1006")  # the stock dialplan's Local_Extension bridges to user/1006
    assert callee.wait_event("CALL_ESTABLISHED", 15)["direction"] == "incoming"
    assert caller.wait_event("CALL_ESTABLISHED", 15)["peeruri"].startswith("sip:1006@")
    assert eventually(lambda: callee.heard is not None and peak(callee.heard) > TONE), "1006 heard no tone"
    caller.hangup()
    for phone in phones:
        phone.wait_event("CALL_CLOSED")
    heard = callee.heard
    assert heard is not None and peak(heard) > TONE  # the file as closed at hang-up, not only while written

    callee.unregister()
    assert eventually(lambda: not registered(switch, "1006")), "1006 still registered after unregister"
    callee.register()
    callee.wait_registered()
    assert eventually(lambda: registered(switch, "1006")), "1006 not registered again"
