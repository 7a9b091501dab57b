"""A real softphone for the live tests: baresip (Debian's 1.0.0) registered as one directory user.

Where sipp plays scripted SIP, this is a phone the switch cannot tell from a person's: it registers (so
``user/1006`` reaches it), auto-answers, sends a sine tone and records what it hears. It runs as a subprocess
and is driven over baresip's ``ctrl_tcp`` socket (netstring-framed JSON commands, responses and events), all on
gevent's own modules, so a test or an engine in the same process keeps running while the phone does its part.

baresip 1.0.0 has no command to unregister an account and ``ctrl_tcp`` only relays events to a connected client,
so the phone starts with no account, and registering is creating the account's user agent (``uanew``),
unregistering deleting it (``uadel``, whose REGISTER with expires 0 takes it off the registrar). Its ``aufile``
is only a source in 1.0.0, so what the phone hears is written by the ``sndfile`` filter instead, and no player
module is loaded: the phone needs no sound device.
"""

from __future__ import annotations

import array
import itertools
import json
import math
import os
import shutil
import struct
import time
from pathlib import Path
from typing import Any, Callable

import gevent
from gevent import socket, subprocess
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore

BARESIP = shutil.which("baresip")
PASSWORD = os.environ.get("HOTLINE_FS_SIP_PASSWORD", "1234")
"""The password of the switch's directory users 1005-1019 (FreeSWITCH's ``default_password``)."""
TONE = 1000
"""A peak above this is ausine's tone, not silence (or G.711's idle noise)."""
EXPIRES = 300  # the account's registration interval, in seconds


class SoftphoneError(Exception):
    """baresip refused a command, or is gone."""


class Softphone:
    """baresip as ``user`` (with ``password``) of ``domain``, registered at ``registrar``; its SIP on
    127.0.0.1:``sip_port`` (UDP; baresip 1.0.0 also listens there on TCP and, always, on ``sip_port`` + 1 for
    TLS, so two phones' SIP ports must be at least 2 apart), its control socket on 127.0.0.1:``ctrl_port``, its
    files in ``workdir``/baresip-``user`` (so phones can share a test's ``tmp_path``)."""

    def __init__(self, user: str, password: str, workdir: Path, sip_port: int, ctrl_port: int,
                 domain: str = "127.0.0.1", registrar: str = "127.0.0.1:5060", tone_hz: int = 440) -> None:
        self.user, self.password, self.domain, self.registrar = user, password, domain, registrar
        self.tone_hz = tone_hz
        """The sine the phone sends: phones with tones of their own tell who hears whom."""
        self.sip_port, self.ctrl_port = sip_port, ctrl_port
        self.home = workdir / f"baresip-{user}"
        self.events: list[dict[str, Any]] = []  # every event baresip sent, in order
        self._taken: dict[str, int] = {}  # per event type: where wait_event looks for the next one
        self._arrived = Event()  # replaced by a new one on each event (so every waiter wakes once)
        self._replies: dict[str, AsyncResult] = {}
        self._tokens = itertools.count()
        self._one_command = Semaphore()  # baresip's netstring reader is unreliable with two requests in one read
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._reader: gevent.Greenlet | None = None

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def account(self) -> str:
        """The account line (as in baresip's ``accounts`` file): auto-answer, G.711 only, routed via the
        registrar."""
        return (f"<{self.aor};transport=udp>;auth_pass={self.password};answermode=auto;audio_codecs=PCMU,PCMA;"
                f"regint={EXPIRES};outbound=\"sip:{self.registrar};transport=udp\"")

    @property
    def heard(self) -> Path | None:
        """The WAV file of what the phone heard on its latest call (the ``sndfile`` filter's decode dump, named
        by the second the call's audio started), or None before any call had audio."""
        dumps = sorted(self.home.glob("dump-*-dec.wav"))
        return dumps[-1] if dumps else None

    def start(self, timeout: float = 10) -> None:
        """Write the configuration, start baresip, connect to its control socket and register."""
        assert BARESIP, "baresip is not installed: apt install baresip-core"
        self._configure()
        log = (self.home / "baresip.log").open("wb")
        with log:  # the child has its own copy of the descriptor
            self._process = subprocess.Popen([BARESIP, "-f", str(self.home)], cwd=self.home,
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self._control = self._connect(timeout)
        self._reader = gevent.spawn(self._read, self._control)
        self.register()

    def register(self) -> None:
        """Put the phone on the registrar (see wait_registered); it must be off it (new, or unregistered)."""
        self.command("uanew", self.account)
        self.command("uafind", self.aor)  # dial and hangup act on the current agent; uanew does not make it so

    def wait_registered(self, timeout: float = 10) -> dict[str, Any]:
        """The registrar's acceptance of the latest register (its REGISTER_OK event)."""
        return self.wait_event("REGISTER_OK", timeout)

    def unregister(self) -> None:
        """Take the phone off the registrar: its REGISTER with expires 0 is sent when this returns (baresip
        reports no answer to it, so whoever cares asks the registrar)."""
        self.command("uadel", self.aor)

    def dial(self, number: str) -> None:
        """Call ``number`` (a user part completes to ``number@domain``); CALL_ESTABLISHED tells it was answered."""
        self.command("dial", number)

    def hangup(self) -> None:
        """End (or cancel, or refuse) the current call; CALL_CLOSED follows."""
        self.command("hangup")

    def command(self, name: str, params: str = "", timeout: float = 10) -> str:
        """Run a baresip command (a long one of ``menu`` or the core) and return what it printed."""
        if self._control is None:
            raise SoftphoneError(f"{self.user}: not started")
        token = str(next(self._tokens))
        request = {"command": name, "token": token, **({"params": params} if params else {})}
        payload = json.dumps(request).encode()
        with self._one_command:
            reply = self._replies[token] = AsyncResult()
            try:
                self._control.sendall(b"%d:%s," % (len(payload), payload))
                response = reply.get(timeout=timeout)
            except gevent.Timeout:
                raise SoftphoneError(f"{self.user}: no answer to {name} within {timeout} s") from None
            except OSError as error:
                raise SoftphoneError(f"{self.user}: baresip is gone: {error}") from error
            finally:
                del self._replies[token]
        if not response["ok"]:
            raise SoftphoneError(f"{self.user}: {name} {params}".rstrip() + f" failed: {response['data']}")
        return response["data"]

    def wait_event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The first event of type ``kind`` (e.g. CALL_ESTABLISHED) after the one this last returned: so a
        second call's events are not taken for the first's."""
        deadline = time.monotonic() + timeout
        while True:
            arrived = self._arrived
            for index in range(self._taken.get(kind, 0), len(self.events)):
                if self.events[index]["type"] == kind:
                    self._taken[kind] = index + 1
                    return self.events[index]
            if self._reader is None or self._reader.dead:
                raise SoftphoneError(f"{self.user}: baresip is gone, no {kind}; events: {self._types()}")
            if not arrived.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"{self.user}: no {kind} within {timeout} s; events: {self._types()}")

    def stop(self, timeout: float = 10) -> None:
        """Quit baresip (which hangs up its calls and unregisters), killing it if it does not exit in time."""
        if self._process is None:
            return
        if self._process.poll() is None and self._reader is not None and not self._reader.dead:
            try:
                self.command("quit", timeout=timeout)
            except SoftphoneError:
                pass  # it may be gone before it answers
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout)
        if self._control is not None:
            self._control.close()
        if self._reader is not None:
            self._reader.kill()

    def _configure(self) -> None:
        """baresip's ``config``, and an empty ``accounts`` and ``contacts`` (the account comes with register, and
        the phone dials numbers): with ``-f`` baresip reads only these, never ~/.baresip."""
        self.home.mkdir(parents=True, exist_ok=True)
        rtp = 10000 + 10 * (self.sip_port % 600)  # below the switch's 16384-32768, above sipp's media ports
        (self.home / "config").write_text(f"""\
sip_listen 127.0.0.1:{self.sip_port}
rtp_ports {rtp}-{rtp + 9}
audio_source ausine,{self.tone_hz}
# the only rate and channel count ausine makes; baresip resamples to G.711's
ausrc_srate 48000
ausrc_channels 2
snd_path {self.home}
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module sndfile.so
module_tmp account.so
# the commands: dial, hangup, uanew, uadel, uafind
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
# no call status line in the log every 100 ms
statmode_default off
""", encoding="utf-8")
        for name in ("accounts", "contacts"):
            (self.home / name).write_text("", encoding="utf-8")

    def _connect(self, timeout: float) -> socket.socket:
        """The control connection, once baresip listens (it loads its modules first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=timeout)
            except OSError:
                if self._process is None or self._process.poll() is not None or time.monotonic() > deadline:
                    raise SoftphoneError(f"{self.user}: no ctrl_tcp on {self.ctrl_port}; see "
                                         f"{self.home / 'baresip.log'}") from None
                gevent.sleep(0.05)

    def _read(self, control: socket.socket) -> None:
        """Split the stream into netstrings: a response goes to its command, an event onto ``events``."""
        control.settimeout(None)
        buffer = b""
        try:
            while chunk := control.recv(65536):
                buffer += chunk
                while b":" in buffer:
                    head, _, rest = buffer.partition(b":")
                    if len(rest) <= int(head):
                        break
                    message, buffer = json.loads(rest[:int(head)]), rest[int(head) + 1:]
                    if message.get("response") and message.get("token") in self._replies:
                        self._replies[message["token"]].set(message)
                    elif message.get("event"):
                        self.events.append(message)
                        self._wake()
        except OSError:
            pass
        finally:
            self._wake()  # waiters notice baresip is gone

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, Event()
        arrived.set()

    def _types(self) -> list[str]:
        return [event["type"] for event in self.events]


def samples(path: Path) -> tuple[int, array.array]:
    """The sample rate and samples of a 16-bit little-endian mono WAV file. While a call goes on, libsndfile's
    header says the data chunk is empty (it writes the size when the call ends), so an empty chunk is read to the
    end of the file: a call's audio can be checked as it flows."""
    data, rate = path.read_bytes(), 8000
    offset = 12  # past "RIFF", its size and "WAVE"
    while offset + 8 <= len(data):
        chunk, size = struct.unpack_from("<4sI", data, offset)
        if chunk == b"fmt ":
            rate = struct.unpack_from("<I", data, offset + 12)[0]
        if chunk == b"data":
            end = offset + 8 + size if 0 < size <= len(data) - offset - 8 else len(data)
            body = data[offset + 8:end]
            return rate, array.array("h", body[:len(body) // 2 * 2])
        offset += 8 + size + size % 2
    return rate, array.array("h")


def peak(path: Path) -> int:
    """The largest absolute sample: 0 for digital silence, thousands for a tone."""
    return max(map(abs, samples(path)[1]), default=0)


def tone_share(path: Path, hz: int, from_s: float) -> float:
    """How much of what was heard from ``from_s`` seconds on is a sine of ``hz`` (Goertzel's power at ``hz`` over
    the window's whole power, 0 to 1): about 1 for that tone alone, 1/n for one of n equal tones, 0 without it."""
    rate, heard = samples(path)
    window = heard[int(from_s * rate):]
    if not window:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for sample in window:
        s1, s2 = sample + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    total = sum(sample * sample for sample in window)
    return 2 * power / (len(window) * total) if total else 0.0


def eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Whether ``condition()`` holds within ``timeout`` seconds (it is asked every 50 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True
