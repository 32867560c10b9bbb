"""The lifecycle manager's services and watch, over real DDS: roll-back of a failed bring-up, pause, resume,
reset and shutdown on request, `~/is_active`, and a busy node told apart from a dead one."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from ros_probe import RosProbe, run
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from ocelot_common.processes import LaunchProc, Proc, fresh_domain_id
from ocelot_msgs.msg import GraphHealth
from ocelot_msgs.srv import ManageLifecycleNodes

HERE = Path(__file__).parent
GRAPHS = str(HERE / "graphs_two_oracles.yaml")
MANAGER = HERE.parents[2] / "install" / "ocelot_bringup" / "lib" / "ocelot_bringup" / "lifecycle_manager"


@pytest.fixture
def domain():
    return fresh_domain_id()


@pytest.fixture
def started():
    procs = []
    yield procs
    for proc in procs:
        proc.kill()


def state_of(domain, node):
    result = run(["ocelot", "lifecycle", "get", node], domain, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def call(probe, service_type, name, request, timeout=60):
    client = probe.node.create_client(service_type, name)
    probe.spin_until(client.service_is_ready, 30, f"the service {name}")
    future = client.call_async(request)
    probe.spin_until(future.done, timeout, f"an answer from {name}")
    return future.result()


def test_a_failed_bringup_takes_the_nodes_it_reached_back_down(domain, started):
    graph = LaunchProc(["ocelot", "launch", "pair", "--graphs", GRAPHS, "second_gain:=2.5"], domain)
    started.append(graph)
    line = graph.wait_line("bring-up of graph 'pair' stopped", 60)
    assert "node 'second' failed to configure" in line and "second, first taken back to unconfigured" in line
    assert "first: activate done" in graph.output  # it was up before the second failed
    assert state_of(domain, "first") == "unconfigured [1]"
    assert state_of(domain, "second") == "unconfigured [1]"
    assert graph.popen.poll() is None  # the nodes stay, for a fix and another startup


def test_pause_resume_reset_and_startup_on_request(domain, started):
    graph = LaunchProc(["ocelot", "launch", "pair", "--graphs", GRAPHS], domain)
    started.append(graph)
    graph.wait_line("graph 'pair' active", 60)
    manage = "/lifecycle_manager/manage_nodes"
    with RosProbe(domain) as probe:
        active = call(probe, Trigger, "/lifecycle_manager/is_active", Trigger.Request())
        assert active.success and active.message == "first: active, second: active"
        for command, expected in [
            (ManageLifecycleNodes.Request.PAUSE, "inactive [2]"),
            (ManageLifecycleNodes.Request.RESUME, "active [3]"),
            (ManageLifecycleNodes.Request.RESET, "unconfigured [1]"),
            (ManageLifecycleNodes.Request.STARTUP, "active [3]"),
        ]:
            answer = call(probe, ManageLifecycleNodes, manage, ManageLifecycleNodes.Request(command=command))
            assert answer.success, answer.message
            assert state_of(domain, "first") == state_of(domain, "second") == expected
            if expected != "active [3]":
                assert not call(probe, Trigger, "/lifecycle_manager/is_active", Trigger.Request()).success
        unknown = call(probe, ManageLifecycleNodes, manage, ManageLifecycleNodes.Request(command=9))
        assert not unknown.success and "unknown command 9" in unknown.message
        down = call(
            probe,
            ManageLifecycleNodes,
            manage,
            ManageLifecycleNodes.Request(command=ManageLifecycleNodes.Request.SHUTDOWN),
        )
        assert down.success and down.message == "graph 'pair' shut down"
    graph.wait_line("node 'first' exited", 15)
    graph.wait_line("node 'second' exited", 15)


def test_a_node_busy_in_a_long_callback_is_not_taken_for_dead(domain, started):
    node = Proc([sys.executable, str(HERE / "busy_node.py")], domain)
    started.append(node)
    manager = Proc(
        [str(MANAGER), "--ros-args", "-p", "node_names:=[busy]", "-p", "graph:=busy"],
        domain,
    )
    started.append(manager)
    manager.wait_line("graph 'busy' active: busy", 60)
    with RosProbe(domain) as probe:
        health = []
        probe.node.create_subscription(GraphHealth, "/lifecycle_manager/health", health.append, 10)
        hold = probe.node.create_publisher(Float64, "/busy/hold", 10)
        probe.spin_until(lambda: hold.get_subscription_count() > 0, 20, "the busy node's ~/hold subscription")
        hold.publish(Float64(data=5.0))
        node.wait_line("holding the executor", 10)
        busy = probe.spin_until(
            lambda: health and health[-1].nodes[0].busy and health[-1], 5, "a health message saying 'busy' is busy"
        )
        assert busy.nodes[0].alive and busy.nodes[0].state == "active" and busy.all_active
        node.wait_line("released the executor", 10)
        manager.wait_line("node 'busy' answers again (active) after a busy spell", 5)
        assert "is busy: no lifecycle answer" in manager.output
        assert "not responding" not in manager.output
        os.kill(node.popen.pid, signal.SIGKILL)  # now it is dead: no answer and no heartbeat
        started_at = time.monotonic()
        dead = probe.spin_until(
            lambda: health and not health[-1].nodes[0].alive and health[-1], 10, "a health message saying it died"
        )
        assert dead.nodes[0].state == "unreachable" and not dead.nodes[0].busy
        assert time.monotonic() - started_at < 5.0  # heartbeat_period + heartbeat_timeout, with room for load
        manager.wait_line("node 'busy' is not responding", 5)


def test_a_cli_learns_progress_and_a_dead_node_from_the_graphs_topics(domain, started):
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile

    from ocelot_common.graph_watch import GraphWatch
    from ocelot_common.processes import wait_for
    from ocelot_msgs.msg import EvaluationProgress

    graph = LaunchProc(["ocelot", "launch", "pair", "--graphs", GRAPHS], domain)
    started.append(graph)
    graph.wait_line("graph 'pair' active", 60)
    with RosProbe(domain) as probe:
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        progress = probe.node.create_publisher(EvaluationProgress, "/evaluator/progress", latched)
        progress.publish(EvaluationProgress(episodes_done=3, episodes_total=5, failed=True, reason="a stalled camera"))
        with GraphWatch(domain, EvaluationProgress, "/evaluator/progress") as watch:  # joins after the message
            wait_for(lambda: watch.poll(0.1) or watch.progress, 20, "the latched progress")
            assert (watch.progress.episodes_done, watch.progress.failed) == (3, True)
            assert watch.progress.reason == "a stalled camera"
            wait_for(lambda: watch.poll(0.1) or watch.health, 20, "the manager's health")
            assert watch.dead_nodes == []
            os.kill(graph.node_pids()["second"], signal.SIGKILL)
            wait_for(lambda: watch.poll(0.1) or watch.dead_nodes, 10, "the manager's report of the dead node")
            assert watch.dead_nodes == ["second"]
