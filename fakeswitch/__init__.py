"""A FreeSWITCH stand-in that speaks real ESL over TCP, with event shapes taken from real captures.

The test-suite, ``hotline demo`` and ``hotline simulate`` run the engine against it when no FreeSWITCH is at
hand. It is not a mock of our client: it implements the switch side of the protocol independently
(``packets``, ``serialize``), so a client bug cannot hide behind a matching double bug.
"""

from fakeswitch.channels import Channel, Endpoint
from fakeswitch.server import FakeSwitch

__all__ = ["Channel", "Endpoint", "FakeSwitch"]
