"""`ocelot launch` and `ocelot lifecycle` over real DDS, with real node processes."""

import os
import signal
from pathlib import Path

import pytest
from ros_probe import RosProbe, run

from ocelot_common.processes import LaunchProc, fresh_domain_id

GRAPHS = str(Path(__file__).with_name("graphs_two_oracles.yaml"))


@pytest.fixture
def domain():
    return fresh_domain_id()


@pytest.fixture
def launch(domain):
    started = []

    def start(*extra):
        proc = LaunchProc(["ocelot", "launch", "pair", "--graphs", GRAPHS, *extra], domain)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def lifecycle(domain, *args):
    return run(["ocelot", "lifecycle", *args], domain, timeout=60)


def state_of(domain, node):
    result = lifecycle(domain, "get", node)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_drive_a_node_through_its_lifecycle(launch, domain):
    graph = launch("--no-autostart")
    graph.wait_line("started lifecycle_manager", 30)
    assert state_of(domain, "first") == "unconfigured [1]"

    refused = lifecycle(domain, "set", "first", "activate")
    assert refused.returncode == 1
    assert "Transitioning failed: 'activate' is not available from state 'unconfigured'" in refused.stderr
    assert "configure" in refused.stderr
    assert state_of(domain, "first") == "unconfigured [1]"  # alive, and unchanged

    listed = lifecycle(domain, "list", "first")
    assert "- configure [1]\n\tStart: unconfigured\n\tGoal: configuring" in listed.stdout

    for transition, expected in [
        ("configure", "inactive [2]"),
        ("activate", "active [3]"),
        ("deactivate", "inactive [2]"),
        ("cleanup", "unconfigured [1]"),
    ]:
        result = lifecycle(domain, "set", "first", transition)
        assert (result.returncode, result.stdout.strip()) == (0, "Transitioning successful"), result.stderr
        assert state_of(domain, "first") == expected

    assert lifecycle(domain, "set", "first", "shutdown").returncode == 0
    graph.wait_line("node 'first' exited", 15)  # finalized -> the process ends by itself
    assert state_of(domain, "second") == "unconfigured [1]"  # the other node is untouched


def test_autostart_reports_a_killed_node_and_shuts_down_in_order(launch, domain):
    graph = launch()
    graph.wait_line("graph 'pair' active: first, second", 60)
    assert state_of(domain, "first") == "active [3]"
    assert state_of(domain, "second") == "active [3]"

    os.kill(graph.node_pids()["second"], signal.SIGKILL)
    graph.wait_line("node 'second' died (signal SIGKILL)", 5)
    graph.wait_line("node 'second' is not responding", 5)  # the manager's heartbeat noticed

    graph.signal(signal.SIGINT)
    assert graph.wait(40) == 1  # a node died during the run
    out = graph.output
    assert "graph 'pair' shut down" in out
    assert "node 'first' exited" in out  # finalized through deactivate, cleanup, shutdown
    assert "did not finish its shutdown" not in out


def test_manager_publishes_health(launch, domain):
    """The manager's ~/health topic says which node is gone, for tools that watch the graph."""
    from ocelot_msgs.msg import GraphHealth

    graph = launch()
    graph.wait_line("graph 'pair' active", 60)
    with RosProbe(domain) as probe:
        seen = []
        probe.node.create_subscription(GraphHealth, "/lifecycle_manager/health", seen.append, 10)
        healthy = probe.spin_until(
            lambda: seen and seen[-1].all_active and seen[-1], 10, "a health message saying all nodes are active"
        )
        assert [n.name for n in healthy.nodes] == ["first", "second"]
        os.kill(graph.node_pids()["first"], signal.SIGKILL)
        report = probe.spin_until(
            lambda: seen and not seen[-1].nodes[0].alive and seen[-1], 5, "a health message saying 'first' is not alive"
        )
        assert report.nodes[0].state == "unreachable" and report.nodes[1].alive
        assert not report.all_active


def test_a_node_that_fails_to_configure_stops_bringup_and_stays_alive(launch, domain):
    graph = launch("gain:=2.5")  # outside the oracle's (0, 1]: its on_configure answers FAILURE
    graph.wait_line("bring-up of graph 'pair' stopped: node 'first' failed to configure", 60)
    assert state_of(domain, "first") == "unconfigured [1]"
    assert state_of(domain, "second") == "unconfigured [1]"  # never reached


def test_a_launcher_whose_output_is_gone_still_takes_its_graph_down(domain):
    """Its parent (a terminal, a CLI) died and closed the pipe: the nodes must not be left running."""
    import subprocess

    from ocelot_common.ros_env import ros_environment

    proc = subprocess.Popen(
        ["ocelot", "launch", "pair", "--graphs", GRAPHS],
        env=ros_environment(domain_id=domain),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    pids = []
    for line in proc.stdout:
        if "started " in line and " pid=" in line and "lifecycle_manager" not in line:
            pids.append(int(line.rsplit("pid=", 1)[1]))
        if "graph 'pair' active" in line:
            break
    proc.stdout.close()  # nobody reads the launcher's output any more
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert len(pids) == 2
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z"
