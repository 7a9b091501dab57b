"""The errors an ESL user can catch, one class per thing the caller can do something about."""


class EslError(Exception):
    """Base of every error raised by the ESL client."""


class UnsafeValue(EslError, ValueError):
    """A value would change the meaning of an ESL command if it were sent (CR/LF/NUL, a forged token)."""


class ProtocolError(EslError):
    """The peer sent bytes that are not ESL; the connection cannot be trusted any more."""


class ConnectionLost(EslError):
    """The link to FreeSWITCH dropped (or was never up) while this operation needed it."""


class CommandTimeout(EslError):
    """No reply within the allowed time; the reply FIFO stays aligned and the late reply is discarded."""


class AuthFailed(EslError):
    """FreeSWITCH refused the password or the address (ACL)."""


class CommandFailed(EslError):
    """FreeSWITCH answered a command with -ERR."""
