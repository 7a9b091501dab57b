"""A complete call's record to store (the PostgreSQL server the store's tests use is tests/conftest.py's)."""

from __future__ import annotations

from typing import Callable

import pytest

from calls.record import CallTimeline, OfferTrace


@pytest.fixture
def timeline() -> Callable[[int], CallTimeline]:
    """``timeline(n)``: a complete answered call's record, distinct per ``n``."""
    def make(n: int) -> CallTimeline:
        return CallTimeline(f"call-{n:04d}", "13800138000", "12345", 1_000 + n, ivr_entry_ms=1_001 + n,
                            ivr_path=["menu:main", "key:1"], queue_entry_ms=1_002 + n, queue="general",
                            original_position=1, offers=[OfferTrace("1001", 1_003 + n, 1_004 + n, "answered")],
                            answered_ms=1_004 + n, agent="1001", hangup_ms=9_000 + n, hangup_side="caller",
                            hangup_cause="NORMAL_CLEARING", exit_reason="answered")

    return make
