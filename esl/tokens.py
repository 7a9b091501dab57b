"""Validation of the words that go into FreeSWITCH command lines, dial strings and originate variables.

``protocol.packet`` already stops CR/LF/NUL. This module stops the quieter injections of esl-protocol.md §8:
a space that shifts an argument (``1000 XML internal``), a comma or brace that adds an originate variable
(``execute_on_answer``), a ``${...}`` that FreeSWITCH expands (``${system(...)}``). Every value derived from a
caller (caller ID, DTMF, SIP header, transcript, web input) passes one of these before it nears a command.
"""

from __future__ import annotations

import re
from typing import Mapping

from esl.errors import UnsafeValue

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
_DTMF = re.compile(r"[0-9*#]{1,64}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_WORD = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
_HANGUP_CAUSE = re.compile(r"[A-Z_]{2,48}")
_TARGET = re.compile(r"&[a-z_]{1,64}\([^\s${}'\",|\\]*\)")
_ENDPOINT = re.compile(r"[A-Za-z0-9_./@:+*#=;-]{1,256}")

ORIGINATE_UNSAFE = frozenset("${},'\"[]|^\\ ()\r\n\0")
"""Characters that change the meaning of an originate string or of a channel variable's value."""


def _match(pattern: re.Pattern[str], value: object, what: str, allowed: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UnsafeValue(f"{what} {value!r} is not allowed: expected {allowed}")
    return value


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def uuid(value: object) -> str:
    """A channel or job UUID as FreeSWITCH prints them."""
    return _match(_UUID, value, "UUID", "8-4-4-4-12 hexadecimal digits")


def number(value: object) -> str:
    """A telephone number to dial: digits, * and #, an optional leading +."""
    return _match(_NUMBER, value, "number", "1-32 of 0-9 * # with an optional leading +")


def dtmf(value: object) -> str:
    """Keys a caller pressed: only the twelve keys of a phone."""
    return _match(_DTMF, value, "DTMF", "1-64 of 0-9 * #")


def name(value: object) -> str:
    """An application, variable or event-header name."""
    return _match(_NAME, value, "name", "a letter or _ then letters, digits or _")


def word(value: object) -> str:
    """A configuration token such as a SIP user, domain, gateway or profile."""
    return _match(_WORD, value, "word", "letters, digits and . _ @ -")


def hangup_cause(value: object) -> str:
    return _match(_HANGUP_CAUSE, value, "hangup cause", "an upper-case Q.850 name such as NORMAL_CLEARING")


def variable_value(value: object) -> str:
    """A value for an originate ``{var=value}`` block; refused rather than escaped, so nothing is guessed."""
    if not isinstance(value, str):
        raise UnsafeValue(f"variable value must be text, got {type(value).__name__}")
    bad = sorted(set(value) & ORIGINATE_UNSAFE)
    if bad:
        raise UnsafeValue(f"variable value {value[:60]!r} contains {''.join(bad)!r}, which could inject variables")
    return value


def scrub(text: str, limit: int = 64) -> str:
    """Make caller-supplied display text (a SIP display name) safe to show on an agent's phone.

    Caller names are shown, not trusted: every unsafe or control character becomes ``_``.
    """
    return "".join("_" if ch in ORIGINATE_UNSAFE or ord(ch) < 0x20 or ch == "\x7f" else ch for ch in text[:limit])


def originate(endpoint: str, variables: Mapping[str, str], target: str) -> str:
    """The arguments of ``originate``: ``{var=value,...}endpoint target``.

    ``endpoint`` and ``target`` are built by the engine from configuration (``user/1001``, ``&park()``);
    only the variables may carry caller data, and each one is checked.
    """
    block = ",".join(f"{name(key)}={variable_value(value)}" for key, value in variables.items())
    _match(_ENDPOINT, endpoint, "originate endpoint", "a plain dial string such as user/1001 or sofia/gateway/gw/110")
    _match(_TARGET, target, "originate target", "&application(argument) with no spaces, quotes, braces or $")
    return f"{{{block}}}{endpoint} {target}"


def app_argument(arg: str) -> str:
    """An application argument must not ask FreeSWITCH to expand ``${...}``: that reaches ``system``."""
    if "${" in arg:
        raise UnsafeValue(f"application argument {arg[:60]!r} contains '${{', which FreeSWITCH would expand")
    return arg
