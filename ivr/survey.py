"""The satisfaction survey (满意度评价) after the agent hangs up first, feeding the 好差评 five-level scale.

The caller's leg is set to ``park_after_bridge`` when an agent is bridged, so it stays up when the agent
leaves; the survey then asks one key per configured dimension. A key outside the scale, or silence, is
recorded as "not_rated" for that dimension: the record never guesses a rating.
"""

from __future__ import annotations

from typing import Callable

from config.ivr import Survey
from esl import SwitchLink, tokens

RATING_VARIABLE = "hotline_rating"
NOT_RATED = "not_rated"


def run_survey(link: SwitchLink, uuid: str, survey: Survey, sound: Callable[[str], str]) -> dict[str, str]:
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
