"""The front door's copy of the blacklist: fresh from the store, kept while the store is down."""

from __future__ import annotations

import time
from pathlib import Path

from ivr.blacklist import Blacklist
from tickets.store import Block, TicketStore


def test_the_copy_follows_the_store_and_outlives_its_outage(tmp_path: Path, monkeypatch) -> None:
    store = TicketStore(f"sqlite:///{tmp_path}/tickets.db")
    store.migrate()
    blacklist = Blacklist(store)
    blacklist.refresh()
    assert blacklist.blocked("13666666666", 0) is None
    until = int(time.time() * 1000) + 60_000
    store.block(Block("13666666666", "harassment", 0, "班长", until))
    blacklist.refresh()
    assert blacklist.blocked("13666666666", until - 1).reason == "harassment"
    assert blacklist.blocked("13666666666", until) is None  # expired at its time, whatever the last refresh saw

    def down(now_ms: int) -> list[Block]:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr(store, "blacklist", down)
    blacklist.refresh()
    assert blacklist.blocked("13666666666", until - 1) is not None  # the store down unblocks nobody
