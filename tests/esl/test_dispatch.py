"""The per-call event queues: a slow call blocks only itself, and the legs of one call (as ``call_of`` says)
keep the switch's order, so a caller's hang-up is never overtaken by the agent leg's that it caused."""

from __future__ import annotations

import gevent
from gevent.event import Event as Flag

from calls.facts import call_of
from esl.dispatch import CallDispatcher, by_channel
from esl.protocol import Event

CALLER = "0f0e0d0c-0000-4000-8000-000000000001"
AGENT_LEG = "0f0e0d0c-0000-4000-8000-000000000002"


def hang_ups(dispatcher: CallDispatcher) -> list[str]:
    """The caller's CHANNEL_HANGUP arrives first and its handler is slow; the agent leg's comes next."""
    handled: list[str] = []
    slow, done = Flag(), Flag()

    def handler(event: Event) -> None:
        if event.uuid == CALLER:
            slow.wait()
        handled.append(event.uuid)
        if len(handled) == 2:
            done.set()

    dispatcher.on("CHANNEL_HANGUP", handler)
    dispatcher.put(Event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": CALLER}))
    dispatcher.put(Event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": AGENT_LEG, "variable_hotline_call": CALLER}))
    gevent.idle()  # each queue's greenlet has run as far as it can
    slow.set()
    assert done.wait(5)
    return handled


def test_the_legs_of_one_call_are_handled_in_the_switchs_order() -> None:
    assert hang_ups(CallDispatcher(call_of)) == [CALLER, AGENT_LEG]


def test_by_channel_each_leg_is_its_own_call_and_may_overtake() -> None:
    assert hang_ups(CallDispatcher(by_channel)) == [AGENT_LEG, CALLER]


def test_a_hostile_hotline_call_value_does_not_join_another_call() -> None:
    event = Event({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": AGENT_LEG, "variable_hotline_call": "x\nsendmsg"})
    assert call_of(event) == AGENT_LEG
