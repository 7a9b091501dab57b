"""The engine's one clock: wall-clock milliseconds that never jump.

Records need wall-clock times (a report is by the centre's day), and timers (wrap-up, maximum wait, no-answer
delays) need a clock an NTP step cannot move: read the wall clock once, then advance it by the monotonic clock.
A correction made to the system clock while the engine runs is not followed; the switch's own timestamps are.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self._wall_ms = time.time_ns() // 1_000_000
        self._mono_ns = time.monotonic_ns()

    def __call__(self) -> int:
        """Now, in milliseconds since the epoch."""
        return self._wall_ms + (time.monotonic_ns() - self._mono_ns) // 1_000_000
