"""The leg state machine alone: any true history of a leg, delivered shuffled, repeated and with facts missing,
leaves it in the state the newest delivered facts imply, reacting to each change once; the engine's impossible
intentions are refused loudly."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from calls.legs import Leg, LegState, LegStateError, Role

TOGGLES = {"bridged": LegState.BRIDGED, "unbridged": LegState.ANSWERED, "held": LegState.HELD}


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, int]]:
    """What the switch really did to one leg, each fact with its Event-Sequence: created, maybe answered (maybe
    parked), then bridges, holds and unbridges, maybe gone."""
    facts = [("created", 1)]
    if draw(st.booleans()):
        facts.append(("answered", 2))
        if draw(st.booleans()):
            facts.append(("in_park", 3))
        seq = 4
        for toggle in draw(st.lists(st.sampled_from(sorted(TOGGLES)), max_size=6)):
            facts.append((toggle, seq))
            seq += 1
    if draw(st.booleans()):
        facts.append(("gone", 99))
    return facts


def deliver(leg: Leg, fact: str, seq: int) -> bool:
    if fact == "bridged":
        return leg.bridged("peer", seq)
    if fact in ("unbridged", "held", "in_park"):
        return getattr(leg, fact)(seq)
    if fact == "gone":
        return leg.gone("NORMAL_CLEARING", "recv_bye")
    return getattr(leg, fact)()


@given(st.data(), histories())
def test_facts_in_any_order_repeated_or_lost_leave_the_state_the_newest_imply(data: st.DataObject,
                                                                            history: list[tuple[str, int]]) -> None:
    delivered = data.draw(st.lists(st.sampled_from(history), max_size=3 * len(history)), label="delivered")
    leg = Leg("00000000-0000-4000-8000-000000000001", Role.AGENT, "1001")
    changes = {fact: 0 for fact in history}
    for fact in delivered:
        changes[fact] += deliver(leg, *fact)
    toggles = [fact for fact in delivered if fact[0] in TOGGLES]
    if ("gone", 99) in delivered:
        assert (leg.state, leg.parked, changes[("gone", 99)]) == (LegState.GONE, False, 1)
    elif toggles:
        newest = max(toggles, key=lambda fact: fact[1])[0]
        assert leg.state is TOGGLES[newest]
        assert leg.peer == {"bridged": "peer", "unbridged": None}.get(newest, leg.peer)
    elif {("answered", 2), ("in_park", 3)} & set(delivered):
        assert leg.state is LegState.ANSWERED
    elif delivered:
        assert leg.state is LegState.RINGING
    else:
        assert leg.state is LegState.ORIGINATING
    assert not leg.parked or (leg.state is LegState.ANSWERED and not toggles)  # a late park undoes no bridge
    assert all(count <= 1 for fact, count in changes.items() if fact[0] not in TOGGLES)  # each reacted to once


def test_a_leg_takes_switch_facts_in_any_order_and_refuses_impossible_intentions() -> None:
    leg = Leg("00000000-0000-4000-8000-000000000001", Role.AGENT, "1001")
    assert leg.gone("NORMAL_CLEARING", None) and not leg.answered() and not leg.created()  # late facts change nothing
    assert leg.state is LegState.GONE and not leg.gone("USER_BUSY", "recv_bye")
    assert (leg.cause, leg.disposition) == ("NORMAL_CLEARING", "recv_bye")  # what was missing is filled in
    with pytest.raises(LegStateError, match="cannot bridge it while gone"):
        leg.require("bridge it", LegState.ANSWERED)
    toggled = Leg("00000000-0000-4000-8000-000000000002", Role.AGENT)
    assert toggled.bridged("peer", seq=7) and toggled.state is LegState.BRIDGED  # a missed answer is implied
    assert not toggled.unbridged(seq=5)  # an older toggle arriving late loses to the newer
    assert toggled.unbridged(seq=9) and toggled.state is LegState.ANSWERED and toggled.peer is None
