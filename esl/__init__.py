"""Our own gevent client for the FreeSWITCH Event Socket (why not greenswitch or python-ESL: see README).

``protocol`` is the I/O-free core (framing, parsing, command encoding); ``tokens`` validates every word
that reaches a command; ``connection`` is one socket; ``client.SwitchLink`` is the supervised inbound link
the engine uses; ``outbound`` serves the ``socket`` dialplan application; ``dispatch`` orders events per call.
"""

from esl.client import Backoff, SwitchLink
from esl.errors import AuthFailed, CommandFailed, CommandTimeout, ConnectionLost, EslError, ProtocolError, UnsafeValue
from esl.outbound import OutboundServer, OutboundSession
from esl.protocol import Event

__all__ = [
    "AuthFailed", "Backoff", "CommandFailed", "CommandTimeout", "ConnectionLost", "EslError", "Event",
    "OutboundServer", "OutboundSession", "ProtocolError", "SwitchLink", "UnsafeValue",
]
