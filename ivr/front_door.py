"""The front door as a capability of the engine: it takes every call on a service number and never lets go.

A call parked on a service number is claimed from the switch's safety net (``sched_del``: the transfer the
rendered dialplan scheduled for when no engine takes the call), then driven through the IVR on a greenlet of its
own and handed to a queue with music on hold; its place (queue, entry time, priority) is written on the channel
itself, so whatever engine finds it next knows it. What the ACD says of a caller who leaves a queue unanswered
(another queue, voicemail, callback, a number, goodbye) and its announcements are carried out here.

No fault strands a caller: if the link fails while the front door drives a call, the call is marked interrupted
and reconciliation sends the caller to a human; if a command fails while the caller is still there, they go to a
human at once. Reconciliation also takes the callers no engine saw: new ones from the start, callers cut off in
the IVR to a human (by their switch entry time), waiting callers back into their queue with their entry time.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import structlog

from calls.book import Call, Stage
from calls.legs import LegState
from calls.notices import Announcement, Handover, HoldMusic, LeftQueue, ToQueue, UnitUnreached
from calls.targets import TargetError, resolve
from calls.record import CallTimeline
from config import Settings
from config.ivr import ANNOUNCED_UP_TO
from engine.capability import Hub
from engine.reconcile import Channel, Reconciling, SwitchView
from esl import CommandFailed, EslError, Event, tokens, workers
from ivr.blacklist import Blacklist
from ivr.call_flow import CallFlow
from ivr.prompts import PromptLibrary
from tickets.region import caller_region
from tickets.store import TicketStore

log = structlog.get_logger(__name__)

NET_EXTENSION = "hotline_safety_net"
"""Where the rendered dialplan's scheduled transfer sends a caller no engine took (switch_conf.render)."""
NET_MARK = "hotline_net"
"""The channel variable the net's extension sets to ``fired`` first."""


class FrontDoor:
    def __init__(self, settings: Settings, store: TicketStore) -> None:
        self.settings = settings
        self.store = store
        ivr = settings.ivr
        self.service_numbers = frozenset([*settings.centre.service_numbers, *filter(None, [ivr.emergency.from_110])])
        self.prompts = PromptLibrary(Path(ivr.prompt_cache))
        self.blacklist = Blacklist(store)

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        self.flow = CallFlow(self.settings.ivr, hub.link, self.prompts, self.store, self.blacklist, hub.book, self.to_queue,
                             caller_region, hub.clock)
        hub.on("CHANNEL_PARK", self._parked)
        hub.on(LeftQueue, lambda left: self._spawn(left.call_id, self._left_queue, left))
        hub.on(Handover, lambda handover: self._spawn(handover.call_id, self._hand_over, handover))
        hub.on(UnitUnreached, lambda unreached: self._spawn(unreached.call_id, self._unit_unreached, unreached))
        hub.on(HoldMusic, lambda held: self._spawn(held.call_id, self._hold_music, held))
        hub.on(Announcement, lambda announcement: self._spawn(announcement.call_id, self._announce, announcement))
        hub.on(Reconciling, self._reconcile)

    def prepare(self) -> int:
        """Speak every prompt into the cache (espeak-ng) before the first call; returns how many were new."""
        ivr = self.settings.ivr
        return self.prompts.prepare(ivr.prompt(name) for name in sorted(ivr.prompt_names()))

    # --- taking calls ----------------------------------------------------------------------------------------

    def _parked(self, event: Event) -> None:
        """A call parked on a service number (the dialplan's ``park``): take it, unless the book has it."""
        dialled = event.get("Caller-Destination-Number") or ""
        if dialled not in self.service_numbers:
            return
        created_us = event.get("Caller-Channel-Created-Time") or ""
        call = self.hub.book.open(event.uuid, event.get("Caller-Caller-ID-Number") or "", dialled,
                                  int(created_us) // 1000 if created_us.isdigit() else self.hub.clock())
        if call is not None:
            self._spawn(call.id, self._new_call, call)

    def _new_call(self, call: Call) -> None:
        if not self._claim(call, new=True):
            return
        self.flow.run(call.id, call.record.caller_number, call.record.called_number)

    def _claim(self, call: Call, new: bool) -> bool:
        """Cancel the safety net's transfer (again for a resumed call: the first claim may have been cut off);
        False if the net already took the call (it is followed to its end). A new call with no transfer to
        cancel whose net did not fire comes through a dialplan without the net: it is taken all the same, and
        the operator is told."""
        if not self.settings.ivr.safety_net.enabled:
            return True
        uuid = tokens.uuid(call.id)
        if not self.hub.link.api(f"sched_del {uuid}").strip().endswith("Deleted: 0"):
            return True
        if self.hub.link.api(f"uuid_getvar {uuid} {NET_MARK}").strip() == "fired":
            log.warning("call.safety_net_took_it", uuid=call.id)
            self.hub.book.exited(call.id, "safety_net")
            return False
        if new:
            log.warning("call.no_safety_net", uuid=call.id, fix="render switch_conf and install its dialplan: "
                        "callers wait in silence whenever no engine takes their call")
        return True

    def to_queue(self, uuid: str, queue: str, caller: str, priority: int = 0, entered_ms: int | None = None,
                 music: bool = True, transferred: bool = False, agent: str | None = None) -> None:
        """To a human: the place written on the channel, music on hold, then the ACD takes the caller
        (``entered_ms``: a place kept from before; ``transferred``, ``agent``: see calls.notices.ToQueue)."""
        entered = self.hub.clock() if entered_ms is None else entered_ms
        # park_after_bridge: the caller outlives the agent's leg for the survey; said either way, since a
        # transfer sets it
        marks = [f"hotline_queue={queue}", f"hotline_entered={entered}", f"hotline_priority={priority}",
                 f"park_after_bridge={str(self.settings.ivr.survey.enabled).lower()}"]
        if transferred:
            marks.append("hotline_transferred=true")
        self.hub.link.execute(uuid, "multiset", " ".join(marks), acknowledged=not music)  # the music's reply tells
        if music:
            self.hub.link.execute(uuid, "playback", self.settings.acd.queues[queue].music_on_hold)
        log.info("call.queued", uuid=uuid, queue=queue, priority=priority, transferred=transferred)
        self.hub.run([ToQueue(uuid, queue, caller, entered, priority, returning=entered_ms is not None,
                              transferred=transferred, agent=agent,
                              agent_wait_ms=int(self.settings.linkage.answer_timeout * 1000))])

    def to_human(self, call: Call, step: str) -> None:
        """The caller's own human queue (their tenant's, or the queue they were in), keeping their place; what
        the channel was playing for whoever drove it before (a menu, a prompt) stops first."""
        record = call.record
        self.hub.book.ivr(call.id, step, self.hub.clock())
        self.hub.link.api(f"uuid_break {tokens.uuid(call.id)} all")
        queue = record.queue if record.queue in self.settings.acd.queues else self.flow.tenant(record).queue
        self.to_queue(call.id, queue, record.caller_number, entered_ms=record.queue_entry_ms or record.switch_entry_ms)

    # --- what the ACD says --------------------------------------------------------------------------------------

    def _left_queue(self, left: LeftQueue) -> None:
        """The caller left the queue without an agent: where the queue's overflow says, never to silence."""
        call = self.hub.book.get(left.call_id)
        if call is None or not call.caller.up:
            return
        uuid, record = call.id, call.record
        self.hub.book.ivr(uuid, f"left_queue:{left.reason}:{left.action}", self.hub.clock())
        self.hub.link.api(f"uuid_break {tokens.uuid(uuid)} all")  # the music on hold
        if left.action == "queue":
            self.to_queue(uuid, left.target, record.caller_number, entered_ms=record.queue_entry_ms)
        elif left.action == "voicemail":
            self.flow.voicemail(uuid)
        elif left.action == "number":
            self.flow.transfer(uuid, record.caller_number, self.flow.tenant(record), left.target)
        else:
            self.flow.goodbye(uuid, left.reason, "callback" if left.action == "callback" else "busy_goodbye")

    def _hand_over(self, handover: Handover) -> None:
        """After the agent's blind transfer: to the queue or agent named, keeping the caller's place; or to the
        unit outside, and back to the queue, place kept, if it cannot be reached."""
        call = self.hub.book.get(handover.call_id)
        if call is None or not call.caller.up:
            return
        target, record = handover.target, call.record
        entered = record.queue_entry_ms or record.switch_entry_ms
        self.hub.book.ivr(call.id, f"transfer:{target.label}", self.hub.clock())
        if not target.outside:
            self.hub.link.api(f"uuid_break {tokens.uuid(call.id)} all")  # hold music, if it was taken aside
            self.to_queue(call.id, handover.queue, record.caller_number, entered_ms=entered, transferred=True,
                          agent=target.name if target.kind == "agent" else None)
            return
        if self.flow.dial_out(call.id, target.number, target.trunk, target.caller_id):
            return
        self.hub.book.transferred(call.id, "failed")
        self.flow.play(call.id, "transfer_failed")
        self.to_queue(call.id, handover.queue, record.caller_number, entered_ms=entered, transferred=True)

    def _hold_music(self, held: HoldMusic) -> None:
        """The caller, taken aside while their agent consults, hears their queue's music until bridged again."""
        call = self.hub.book.get(held.call_id)
        if call is not None and call.caller.up:
            queue = call.record.queue if call.record.queue in self.settings.acd.queues else self.flow.tenant(call.record).queue
            self.hub.link.execute(call.id, "playback", self.settings.acd.queues[queue].music_on_hold, acknowledged=False)

    def _unit_unreached(self, unreached: UnitUnreached) -> None:
        """Tell caller and agent, still together in the room, that the unit did not answer."""
        sound = tokens.app_argument(self.flow.sound("linkage_no_answer"))
        try:
            self.hub.link.api(f"conference {tokens.word(unreached.room)} play {sound}")
        except CommandFailed as exc:  # the room ended meanwhile (the caller left): nobody to tell
            log.info("call.unit_unreached_untold", uuid=unreached.call_id, error=str(exc))

    def _announce(self, announcement: Announcement) -> None:
        """Break the music on hold, say the position and the wait (whole minutes, at least one; each capped at
        the prompts there are), then the music again (queued in the switch)."""
        call = self.hub.book.get(announcement.call_id)
        if call is None or call.stage is not Stage.QUEUED or call.record.queue is None:
            return
        minutes = max(1, -(-announcement.estimated_wait_s // 60))
        files = [self.flow.sound(f"position_{min(announcement.position, ANNOUNCED_UP_TO)}"),
                 self.flow.sound(f"wait_{min(minutes, ANNOUNCED_UP_TO)}"),
                 self.settings.acd.queues[call.record.queue].music_on_hold]
        self.hub.link.api(f"uuid_break {tokens.uuid(call.id)}")
        for file in files:
            self.hub.link.execute(call.id, "playback", file)

    # --- driving a call -----------------------------------------------------------------------------------------

    def _spawn(self, call_id: str, work: Callable[..., None], *args: object) -> None:
        workers.spawn(self._drive, call_id, work, *args)

    def _drive(self, call_id: str, work: Callable[..., None], *args: object) -> None:
        """Run ``work`` for a call; whatever fails, the caller is not left in silence: a link failure leaves
        the call to reconciliation, a refused command sends the caller to a human, and if even that is refused
        the call ends (recorded as a system failure) rather than hang in silence."""
        try:
            work(*args)
        except EslError as exc:
            call = self.hub.book.get(call_id)
            if call is None or not call.caller.up:
                return  # the caller hung up: their hang-up finishes the record
            if not self.hub.link.connected.is_set() or not isinstance(exc, CommandFailed):
                call.interrupted = True
                log.info("call.interrupted", uuid=call_id, error=str(exc))
            elif not self._exists(call_id):
                return  # gone: its hang-up is on its way, or reconciliation will find it missing
            elif work != self.to_human:
                log.warning("call.to_human_after_failure", uuid=call_id, error=str(exc))
                self._drive(call_id, self.to_human, call, "failed")
            else:
                log.error("call.ended_after_failure", uuid=call_id, error=str(exc))
                call.caller.ending()
                self.flow.hangup(call_id, "NORMAL_TEMPORARY_FAILURE")

    def _exists(self, uuid: str) -> bool:
        try:
            return self.hub.link.api(f"uuid_exists {tokens.uuid(uuid)}").strip() == "true"
        except EslError:
            return False

    # --- reconciliation -----------------------------------------------------------------------------------------

    def _reconcile(self, reconciling: Reconciling) -> None:
        view, book = reconciling.view, self.hub.book
        for call in list(book.calls.values()):
            if call.caller.up and call.interrupted:
                call.interrupted = False
                view.fixed["interrupted_resumed"] += 1
                self._drive(call.id, self._resume, call)
        for channel in view.unknown(book):
            if channel.destination == NET_EXTENSION:
                self._follow(channel, view.records.get(channel.uuid), "safety_net")
                view.fixed["safety_net_followed"] += 1
            elif channel.direction != "inbound" or channel.destination not in self.service_numbers:
                continue  # not a citizen's call: agents' own calls and legs are the ACD's
            elif (partner := channel.var("bridge_to")) is not None:
                partner_channel = view.details(partner)
                if partner_channel is None or partner_channel.var("hotline_agent") is None:
                    self._follow(channel, view.records.get(channel.uuid), "transferred")  # to 110, a department
                    view.fixed["transfers_followed"] += 1
            else:
                view.fixed[self._adopt(channel, view)] += 1
        for call_id, record in view.records.items():
            if book.find(call_id) is None and view.details(call_id) is None:  # ended while no engine could see it
                book.finish(book.restore(record, LegState.GONE), None)
                view.fixed["records_finished"] += 1

    def _resume(self, call: Call) -> None:
        """A call whose driver stopped with the link: to a human, or, after its conversation, goodbye."""
        if call.stage is Stage.AFTER:
            self.flow.goodbye(call.id, "answered", "goodbye")
            return
        if self._claim(call, new=False):
            self.to_human(call, "resumed")

    def _adopt(self, channel: Channel, view: SwitchView) -> str:
        """A caller on a service number the book does not hold (dialled while no engine ran, or a previous
        engine's): what the channel says decides. Returns what was done, for the reconciliation's log line."""
        saved = view.records.get(channel.uuid)
        record = saved or CallTimeline(channel.uuid, channel.caller_number, channel.destination, channel.created_ms)
        queue, entered = channel.var("hotline_queue"), channel.ms_var("hotline_entered")
        if not channel.answered:
            call = self.hub.book.restore(record, LegState.RINGING)
            self._spawn(call.id, self._new_call, call)
            return "new_calls_taken"
        # its agent left (the engine's blind transfer, or the softphone's REFER): on to the target
        transfer = channel.var("hotline_transfer") or (channel.destination if channel.var("sip_refer_to") else None)
        if transfer is not None and channel.var("hotline_transferred") != "true":
            call = self.hub.book.restore(record, LegState.ANSWERED)
            own = queue if queue in self.settings.acd.queues else self.flow.tenant(record).queue
            try:
                call.handover = Handover(call.id, resolve(transfer, self.settings), own)
            except TargetError:  # the configuration changed meanwhile: a human decides
                self._drive(call.id, self.to_human, call, "restarted")
                return "ivr_callers_to_human"
            self._spawn(call.id, self._hand_over, call.handover)
            return "transfers_resumed"
        if channel.application == "conference" and not self._alone_in_room(channel, view):
            self.hub.book.restore(record, LegState.ANSWERED, Stage.CONNECTED)  # the three-way call goes on: followed
            return "rooms_followed"
        if channel.application == "conference":  # its agent left, its unit never came in: back in line
            self._back_in_line(record, "uuid_park {uuid}", queue, entered)
            return "lone_room_callers_to_queue"
        if channel.var("hotline_consult") not in (None, "over"):  # aside while the agent consulted: to the queue
            self._back_in_line(record, "uuid_break {uuid} all", queue, entered)
            return "consulted_callers_to_queue"
        if channel.var("last_bridge_to") is not None:  # the conversation is over: the survey was cut off
            call = self.hub.book.restore(record, LegState.ANSWERED, Stage.AFTER)
            self._spawn(call.id, self._resume, call)  # a goodbye takes seconds: not on reconciliation's time
            return "after_calls_ended"
        call = self.hub.book.restore(record, LegState.ANSWERED)
        if queue in self.settings.acd.queues and entered is not None:
            record.queue, record.queue_entry_ms = record.queue or queue, entered
            music = channel.application != "playback"
            self._drive(call.id, partial(self.to_queue, call.id, queue, record.caller_number,
                                         min(channel.ms_var("hotline_priority") or 0, 9), entered, music,
                                         transferred=channel.var("hotline_transferred") == "true"))
            return "waiting_callers_taken_back"
        self._drive(call.id, self.to_human, call, "restarted")
        return "ivr_callers_to_human"

    def _back_in_line(self, record: CallTimeline, release: str, queue: str | None, entered: int | None) -> None:
        """A caller their agent had left aside or alone: ``release`` (an API command on ``{uuid}``) takes them off
        what they hear, then they wait in their queue again, place kept, as a transfer in."""
        call = self.hub.book.restore(record, LegState.ANSWERED)
        self.hub.link.api(release.format(uuid=tokens.uuid(call.id)))
        own = queue if queue in self.settings.acd.queues else self.flow.tenant(record).queue
        self._drive(call.id, partial(self.to_queue, call.id, own, record.caller_number,
                                     entered_ms=entered or record.switch_entry_ms, transferred=True))

    def _alone_in_room(self, caller: Channel, view: SwitchView) -> bool:
        """Whether the caller is the only one left in their three-way room; if so, a unit still ringing for it
        is called off (no engine would put it in the room now)."""
        try:
            alone = self.hub.link.api(f"conference hotline-{tokens.uuid(caller.uuid)} list count").strip() == "1"
        except EslError:  # the room is gone already: the caller's hang-up or park is on its way
            return False
        for uuid in view.listed if alone else ():
            leg = view.details(uuid)
            if leg is not None and leg.var("hotline_call") == caller.uuid and leg.var("hotline_unit") is not None:
                self.hub.link.api(f"uuid_kill {tokens.uuid(leg.uuid)} ORIGINATOR_CANCEL")
        return alone

    def _follow(self, channel: Channel, saved: CallTimeline | None, reason: str) -> None:
        """A call the engine does not drive but records: followed to its hang-up."""
        record = saved or CallTimeline(channel.uuid, channel.caller_number, channel.destination, channel.created_ms)
        self.hub.book.restore(record, LegState.ANSWERED)
        self.hub.book.exited(channel.uuid, reason)
