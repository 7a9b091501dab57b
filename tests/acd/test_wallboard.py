"""The wallboard reads the live core: agents by state and reason, waiting callers, the longest wait, rates."""

from __future__ import annotations

from acd.agents import Agent
from acd.distributor import Distributor
from acd.queues import QueueSpec
from acd.wallboard import wallboard


def test_the_floor_as_a_supervisor_sees_it() -> None:
    core = Distributor([QueueSpec("general", "general", wrap_up_s=0)])
    for agent_id in ("1001", "1002", "1003"):
        core.add_agent(Agent(agent_id, f"user/{agent_id}", {"general": 5}))
    core.login("1001", 0)
    core.login("1002", 0, ready=False)
    core.not_ready("1002", "meal", 0)
    core.enqueue("c1", "general", "13800000001", 1_000)  # offered to 1001, answered at 6 s
    core.answered("c1", "1001", 6_000)
    core.enqueue("c2", "general", "13800000002", 10_000)
    core.enqueue("c3", "general", "13800000003", 20_000)
    lines = wallboard(core, 40_000)
    assert lines[0] == "agents  ready 0  offered 0  on_call 1  wrap_up 0  not_ready 1  logged_out 1"
    assert lines[1] == "        not ready: meal 1"
    # Only decided calls count: c2 (30 s in line) has failed 20 s but may still make 30 s; c3 (20 s) may make both.
    assert lines[2] == "queue general    waiting   2  longest  30.0 s  answered    1/3    abandoned   0  20 s 50%  30 s 100%"
    assert wallboard(core, 40_001)[2].endswith("20 s 33%  30 s 50%")  # a millisecond on, c3 has failed 20 s, c2 30 s


def test_several_operation_centres_have_a_line_each() -> None:
    core = Distributor([QueueSpec("general", "general", wrap_up_s=0)])
    core.add_agent(Agent("1001", "user/1001", {"general": 5}))
    core.login("1001", 0)
    core.enqueue("c1", "general", "13800000001", 1_000, tenant="nanning")  # offered to 1001, answered at 3 s
    core.answered("c1", "1001", 3_000)
    core.enqueue("c2", "general", "13800000002", 2_000, tenant="wuming")
    lines = wallboard(core, 40_000, tenants=["nanning", "wuming"])
    assert lines[-2] == "tenant nanning   waiting   0  longest   0.0 s  answered    1/1    abandoned   0  20 s 100%  30 s 100%"
    assert lines[-1] == "tenant wuming    waiting   1  longest  38.0 s  answered    0/1    abandoned   0  20 s 0%  30 s 0%"
    assert not any(line.startswith("tenant") for line in wallboard(core, 40_000, tenants=["nanning"]))  # one centre
