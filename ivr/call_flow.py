"""A call from the switch to the queue (or to its other ends): tenant, blacklist, emergency callers, business
hours, menus, self-service lookup, voicemail and transfers, all over ESL on the call's own greenlet.

Nothing the caller sends reaches an application argument unchecked: keys are read back through
``tokens.dtmf`` (only ``0-9*#``), a ticket number must be digits, and every argument is built from the
configuration and the call's UUID. The blacklist is a copy kept fresh off the hub (ivr.blacklist); the ticket
store is asked through gevent's threadpool, so a slow database delays one caller, never the engine; if it cannot be
asked, lookups say "not found".
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Callable

import structlog

from calls.book import CallBook
from calls.record import CallTimeline
from config.ivr import (Ivr, Tenant, ToEmergency, ToHangup, ToLookup, ToNumber, ToQueue, ToVoicemail,
                        TICKET_STATUSES)
from esl import EslError, SwitchLink, tokens
from ivr.blacklist import Blacklist
from ivr.menus import Ask, MenuWalk
from ivr.prompts import PromptLibrary
from ivr.tenants import is_open, select
from tickets.store import TicketStore, off_hub

log = structlog.get_logger(__name__)

KEY_VARIABLE = "hotline_key"
TICKET_VARIABLE = "hotline_ticket"
BEEP = "tone_stream://%(500,0,800)"
Enqueue = Callable[[str, str, str, int], None]
"""(call UUID, queue, caller number, priority): hands the caller to the ACD."""


class CallFlow:
    """Runs one call at a time per greenlet; shared, stateless between calls."""

    def __init__(self, ivr: Ivr, link: SwitchLink, prompts: PromptLibrary, store: TicketStore, blacklist: Blacklist,
                 book: CallBook, enqueue: Enqueue, region: Callable[[str], str | None], clock: Callable[[], int],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.ivr = ivr
        self.link = link
        self.prompts = prompts
        self.store = store
        self.blacklist = blacklist
        self.book = book
        self.enqueue = enqueue
        self.region = region if any(tenant.regions for tenant in ivr.tenants.values()) else lambda number: None
        """The caller's region (phonenumbers' geocoder, a third of a millisecond), asked only if a tenant is chosen by it."""
        self.clock = clock
        self.now = now

    def tenant(self, record: CallTimeline) -> Tenant:
        """The operation centre a call belongs to: the one its record names, else by number and region."""
        return self.ivr.tenants.get(record.tenant or "") or \
            select(self.ivr, record.called_number, self.region(record.caller_number))[1]

    def sound(self, name: str) -> str:
        return self.prompts.path(self.ivr.prompt(name))

    def run(self, uuid: str, caller: str, called: str) -> None:
        """From the switch handing the call over to the ACD queue, or to the call's end."""
        name, tenant = select(self.ivr, called, self.region(caller))
        from_110 = bool(self.ivr.emergency.from_110) and called == self.ivr.emergency.from_110
        self.book.note(uuid, tenant=name, **({"origin": "110"} if from_110 else {}))
        if not from_110 and self._blocked(uuid, caller):
            return
        self.link.execute(uuid, "answer", acknowledged=False)  # what follows runs after it, and its reply tells
        if from_110 or caller in self.ivr.emergency.callers:
            self._step(uuid, "from_110" if from_110 else "emergency_caller")
            self.enqueue(uuid, self.ivr.emergency.queue, caller, self.ivr.emergency.priority)
            return
        if not is_open(tenant.hours, self.now()):
            self._after_hours(uuid, caller, tenant)
            return
        walk = MenuWalk(self.ivr, tenant)
        step: object = walk.start(tuple(tenant.greeting))
        recorded = 0
        while True:
            while isinstance(step, Ask):
                recorded = self._steps(uuid, walk.path, recorded)
                for prompt in step.before:
                    self.play(uuid, prompt)
                step = walk.press(self._key(uuid, step))
            recorded = self._steps(uuid, walk.path, recorded)
            if not isinstance(step, ToLookup):
                break
            self._lookup(uuid)
            step = walk.again()
        self._exit(uuid, caller, tenant, step)

    # --- ends of the menus -------------------------------------------------------------------------------

    def _exit(self, uuid: str, caller: str, tenant: Tenant, action: object) -> None:
        if isinstance(action, ToQueue):
            self.enqueue(uuid, action.queue, caller, action.priority)
        elif isinstance(action, ToEmergency):
            self.enqueue(uuid, self.ivr.emergency.queue, caller, self.ivr.emergency.priority)
        elif isinstance(action, ToNumber):
            self.transfer(uuid, caller, tenant, action.number)
        elif isinstance(action, ToVoicemail):
            self.voicemail(uuid)
        elif isinstance(action, ToHangup):
            self.goodbye(uuid, "ivr_hangup", action.prompt)

    def transfer(self, uuid: str, caller: str, tenant: Tenant, number: str) -> None:
        """An outside number (110, a department) with the tenant's caller ID; if it cannot be reached the caller
        goes to a human instead (the emergency desk when it was 110), never to silence."""
        self._step(uuid, f"number:{number}")
        self.book.exited(uuid, "transferred")  # before the bridge: the far side's hang-up ends the call at once
        if self.dial_out(uuid, number, self.ivr.trunk, tenant.caller_id):
            return
        self.book.note(uuid, exit_reason=None)
        self._step(uuid, "number_failed")
        fallback = self.ivr.emergency if number == "110" else None
        self.enqueue(uuid, fallback.queue if fallback else tenant.queue, caller, fallback.priority if fallback else 0)

    def dial_out(self, uuid: str, number: str, trunk: str, caller_id: str) -> bool:
        """Tell the caller, then bridge them to an outside number until either side hangs up (then the switch
        ends the call, engine or not); False, with the caller still here, if it could not be reached."""
        self.play(uuid, "emergency_transfer" if number == "110" else "transfer")
        dial = f"{{origination_caller_id_number={tokens.number(caller_id)}}}{trunk}/{tokens.number(number)}"
        self.link.execute(uuid, "multiset", "hangup_after_bridge=true park_after_bridge=false")
        done = self.link.execute(uuid, "bridge", dial, wait_complete=True)
        if done is not None and done.get("variable_originate_disposition") == "SUCCESS":
            self.hangup(uuid)
            return True
        return False

    def voicemail(self, uuid: str) -> None:
        """留言: the prompt, a beep, then the caller speaks until # or the limit; the file goes on the record."""
        self._step(uuid, "voicemail")
        folder = Path(self.ivr.voicemail.folder).resolve() / self.now().strftime("%Y%m%d")
        path = folder / f"{tokens.uuid(uuid)}.wav"
        folder.mkdir(parents=True, exist_ok=True)
        self.play(uuid, "voicemail")
        self.link.execute(uuid, "playback", BEEP, wait_complete=True)
        self.book.note(uuid, recording=str(path))
        self.book.exited(uuid, "voicemail")
        self.link.execute(uuid, "set", "playback_terminators=#")
        self.link.execute(uuid, "record", f"{path} {self.ivr.voicemail.max_seconds} 200 5", wait_complete=True)
        self.goodbye(uuid, "voicemail", "goodbye")

    def _after_hours(self, uuid: str, caller: str, tenant: Tenant) -> None:
        self._step(uuid, "after_hours")
        self.play(uuid, tenant.after_hours.prompt)
        if tenant.after_hours.then == "voicemail":
            self.voicemail(uuid)
        elif tenant.after_hours.then == "number":
            self.transfer(uuid, caller, tenant, tenant.after_hours.number)
        else:
            self.goodbye(uuid, "after_hours", "goodbye")

    def _lookup(self, uuid: str) -> None:
        """Self-service: a ticket number ending with #, then its status (or "not found") read out."""
        lookup = self.ivr.lookup
        arg = (f"4 {lookup.max_digits} 2 {int(lookup.timeout * 1000)} # {self.sound(lookup.prompt)} "
               f"{self.sound('invalid')} {TICKET_VARIABLE} \\d+")
        done = self.link.execute(uuid, "play_and_get_digits", arg, wait_complete=True)
        ticket = (done.get(f"variable_{TICKET_VARIABLE}") if done else None) or ""
        status = off_hub(self.store.status, ticket) if re.fullmatch(r"[0-9]{4,32}", ticket) else None
        self._step(uuid, f"lookup:{status or 'not_found'}")
        self.play(uuid, f"status_{status}" if status in TICKET_STATUSES else lookup.not_found)

    # --- at the door ----------------------------------------------------------------------------------------

    def _blocked(self, uuid: str, caller: str) -> bool:
        entry = self.blacklist.blocked(caller, int(self.now().timestamp() * 1000))
        if entry is None:
            return False
        self._step(uuid, "blocked")
        self.book.exited(uuid, "blocked")
        self.book.ending(uuid, "system")
        log.info("call.blocked", uuid=uuid, reason=entry.reason)
        blacklist = self.ivr.blacklist
        if blacklist.action == "reject":
            self.hangup(uuid, blacklist.cause)
        else:
            self.link.execute(uuid, "answer", acknowledged=False)  # the prompt's reply tells
            self.play(uuid, blacklist.prompt)
            self.hangup(uuid)
        return True

    # --- primitives -----------------------------------------------------------------------------------------

    def _key(self, uuid: str, ask: Ask) -> str | None:
        """One key while the menu's prompt plays (the caller may answer before it ends); None for silence."""
        arg = (f"1 1 1 {int(ask.timeout_s * 1000)} none {self.sound(ask.prompt)} silence_stream://250 "
               f"{KEY_VARIABLE} [0-9*#]")
        done = self.link.execute(uuid, "play_and_get_digits", arg, wait_complete=True)
        key = (done.get(f"variable_{KEY_VARIABLE}") if done else None) or ""
        return tokens.dtmf(key) if key else None

    def play(self, uuid: str, prompt: str) -> None:
        self.link.execute(uuid, "playback", self.sound(prompt), wait_complete=True)

    def _step(self, uuid: str, step: str) -> None:
        self.book.ivr(uuid, step, self.clock())

    def _steps(self, uuid: str, path: list[str], recorded: int) -> int:
        """Put the menu path taken since ``recorded`` on the call's timeline; returns how much is recorded."""
        for step in path[recorded:]:
            self._step(uuid, step)
        return len(path)

    def goodbye(self, uuid: str, reason: str, prompt: str) -> None:
        self.book.exited(uuid, reason)
        self.book.ending(uuid, "system")
        self.play(uuid, prompt)
        self.hangup(uuid)

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        try:
            self.link.hangup(uuid, cause)
        except EslError:
            pass  # the caller left first
