"""Reused greenlets behave as spawned ones: a task runs after its caller yields, tasks run concurrently, a finished
task's greenlet takes the next one, and a task that raises costs neither its greenlet nor the tasks after it."""

from __future__ import annotations

import gevent
from gevent.event import Event as Flag

from esl.workers import Workers


def test_a_task_runs_after_its_caller_yields_on_the_greenlet_a_finished_task_left() -> None:
    workers, ran = Workers(), []
    workers.spawn(lambda: ran.append(gevent.getcurrent()))
    assert ran == []  # not run synchronously, as gevent.spawn
    gevent.idle()
    workers.spawn(lambda: ran.append(gevent.getcurrent()))
    gevent.idle()
    assert len(ran) == 2 and ran[0] is ran[1]


def test_a_blocked_task_does_not_hold_up_the_next() -> None:
    workers, release, order = Workers(), Flag(), []

    def slow() -> None:
        release.wait()
        order.append("slow")

    workers.spawn(slow)
    workers.spawn(order.append, "quick")
    gevent.idle()
    assert order == ["quick"]
    release.set()
    gevent.idle()
    assert order == ["quick", "slow"]


def test_a_task_that_raises_is_logged_and_its_greenlet_goes_on(capsys) -> None:
    workers, ran = Workers(), []

    def broken() -> None:
        ran.append(gevent.getcurrent())
        raise ValueError("boom")

    workers.spawn(broken)
    gevent.idle()
    workers.spawn(lambda: ran.append(gevent.getcurrent()))
    gevent.idle()
    assert len(ran) == 2 and ran[0] is ran[1]
    assert "workers.task_failed" in capsys.readouterr().out


def test_no_more_idle_greenlets_are_kept_than_asked() -> None:
    workers, release, seen = Workers(keep=1), Flag(), []

    def task() -> None:
        seen.append(gevent.getcurrent())
        release.wait()

    for _ in range(3):
        workers.spawn(task)
    gevent.idle()
    release.set()
    gevent.idle()
    assert len(set(seen)) == 3
    assert sum(not greenlet.dead for greenlet in seen) == 1  # two ended, one waits for work
