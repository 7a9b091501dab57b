"""The satisfaction survey (满意度评价) after the agent hangs up first, feeding the 好差评 five-level scale.

The caller's leg is set to ``park_after_bridge`` when an agent is bridged, so it stays up when the agent
leaves; the survey then asks one key per configured dimension. A key outside the scale, or silence, is
recorded as "not_rated" for that dimension: the record never guesses a rating.
"""

from __future__ import annotations

from typing import Callable

from calls.notices import AgentLeft
from config.ivr import Survey as SurveyConfig
from engine.capability import Hub
from esl import EslError, SwitchLink, tokens, workers

RATING_VARIABLE = "hotline_rating"
NOT_RATED = "not_rated"


def run_survey(link: SwitchLink, uuid: str, survey: SurveyConfig, sound: Callable[[str], str]) -> dict[str, str]:
    """Ask every dimension in turn; returns the rating per dimension."""
    link.execute(uuid, "playback", sound(survey.intro), wait_complete=True)
    keys = "".join(sorted(survey.keys))
    results = {}
    for dimension in survey.dimensions:
        arg = (f"1 1 1 {int(survey.timeout * 1000)} none {sound(dimension.prompt)} silence_stream://250 "
               f"{RATING_VARIABLE} [{keys}]")
        done = link.execute(uuid, "play_and_get_digits", arg, wait_complete=True)
        key = (done.get(f"variable_{RATING_VARIABLE}") if done else None) or ""
        results[dimension.name] = survey.keys.get(tokens.dtmf(key), NOT_RATED) if key else NOT_RATED
    link.execute(uuid, "playback", sound(survey.thanks), wait_complete=True)
    return results


class Survey:
    """The survey as a capability: when the agent leaves first, the caller (kept on the line) rates the call."""

    def __init__(self, survey: SurveyConfig, sound: Callable[[str], str]) -> None:
        self.config = survey
        self.sound = sound

    def attach(self, hub: Hub) -> None:
        self.hub = hub
        if self.config.enabled:
            hub.on(AgentLeft, self._agent_left)

    def _agent_left(self, left: AgentLeft) -> None:
        workers.spawn(self._run, left.call_id)

    def _run(self, call_id: str) -> None:
        call = self.hub.book.get(call_id)
        try:
            ratings = run_survey(self.hub.link, call_id, self.config, self.sound)
        except EslError:
            if call is not None and call.caller.up and not self.hub.link.connected.is_set():
                call.interrupted = True  # reconciliation says goodbye
            return  # or the caller hung up during it: the record says not rated
        self.hub.book.note(call_id, survey=ratings)
        self.hub.book.ending(call_id, "agent")
        try:
            self.hub.link.hangup(call_id)
        except EslError:
            pass  # the caller hung up first
