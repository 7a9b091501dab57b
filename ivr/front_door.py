"""The front door of every call: answer, greet, the recording notice, at most one key, then onward.

GB/T 33358 asks hotlines not to force callers through menus, so this is all the engine does before
the human queue unless a tenant configures more (the menu tree of issue 4 plugs in behind ``choose``).
"""

from __future__ import annotations

from dataclasses import dataclass

from esl import SwitchLink, tokens

CHOICE_VARIABLE = "hotline_choice"


@dataclass(frozen=True, slots=True)
class FrontDoor:
    """Runs the greeting on a parked call and returns the key the caller pressed ('' for none)."""

    link: SwitchLink
    greeting: str = "ivr/12345-welcome.wav"
    recording_notice: str = "ivr/12345-recording-notice.wav"
    choice_prompt: str = "ivr/12345-choice.wav"
    choice_timeout_ms: int = 5000

    def greet(self, uuid: str) -> str:
        self.link.execute(uuid, "answer", wait_complete=True)
        for prompt in (self.greeting, self.recording_notice):
            self.link.execute(uuid, "playback", prompt, wait_complete=True)
        return self.choose(uuid)

    def choose(self, uuid: str) -> str:
        """One key, no retries: silence falls through to the main queue, as the standard asks."""
        arg = f"0 1 1 {self.choice_timeout_ms} # {self.choice_prompt} silence_stream://250 {CHOICE_VARIABLE} [0-9*#]"
        done = self.link.execute(uuid, "play_and_get_digits", arg, wait_complete=True)
        key = (done.get(f"variable_{CHOICE_VARIABLE}") if done else None) or ""
        return tokens.dtmf(key) if key else ""
