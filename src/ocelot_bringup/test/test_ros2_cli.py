"""The standard ROS 2 command line against Ocelot's graphs: `ros2 launch` brings a graph up, `ros2 lifecycle`
and `ros2 param` drive its nodes (refused values answered with the reason), `ocelot lifecycle` drives a graph
that `ros2 launch` started and `ros2 lifecycle` one that `ocelot launch` started, and a terminal's Ctrl-C
(SIGINT to the whole process group, which `ros2 launch` forwards once more) ends every process with exit 0.

Needs ros2cli and ros2launch: `make setup` installs them when ../shared/ros2-tooling is beside the project."""

import os
import re
import shutil
import signal

import pytest
from ros_probe import run

from ocelot_common.processes import Proc, WaitTimeout, fresh_domain_id, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("ros2") is None,
    reason="ros2cli is not installed: run `make setup` with ../shared/ros2-tooling "
    "beside the project, or use a full ROS 2 install",
)


def ros2(domain, *args, until=None, timeout=30):
    """`ros2 ARGS --no-daemon`, retried while its fresh node is still discovering the graph ("Node not found",
    or `until` not yet true of the result): each call discovers the graph anew."""
    result = None

    def answered():
        nonlocal result
        result = run(["ros2", *args, "--no-daemon"], domain, timeout=60)
        return "Node not found" not in result.stderr and (until is None or until(result))

    try:
        wait_for(answered, timeout, f"`ros2 {' '.join(args)}`", interval=0.5)
    except WaitTimeout:
        raise AssertionError(
            f"`ros2 {' '.join(args)}` never answered as expected:\n{result.stdout}\n{result.stderr}"
        ) from None
    return result


@pytest.fixture(params=["ros2 launch", "ocelot launch"])
def sim_graph(request):
    domain = fresh_domain_id()
    cmd = (
        ["ros2", "launch", "ocelot_bringup", "sim_launch.py"]
        if request.param == "ros2 launch"
        else ["ocelot", "launch", "sim"]
    )
    proc = Proc(cmd, domain)
    try:
        proc.wait_line("graph 'sim' active", 120)
        yield request.param, domain, proc
    finally:
        proc.kill()


def test_ros2_lifecycle_and_param_drive_the_graph_and_ctrl_c_ends_it_cleanly(sim_graph):
    how, domain, proc = sim_graph
    assert ros2(domain, "lifecycle", "get", "/sim").stdout.strip() == "active [3]"
    ros2(domain, "lifecycle", "nodes", until=lambda r: {"/sim", "/oracle"} <= set(r.stdout.split()))
    step = ros2(domain, "lifecycle", "set", "/oracle", "deactivate")
    assert "Transitioning successful" in step.stdout, step.stdout + step.stderr
    assert ros2(domain, "lifecycle", "get", "/oracle").stdout.strip() == "inactive [2]"
    ours = run(["ocelot", "lifecycle", "set", "oracle", "activate"], domain, timeout=60)
    assert ours.returncode == 0 and "Transitioning successful" in ours.stdout, ours.stderr
    assert run(["ocelot", "lifecycle", "get", "oracle"], domain).stdout.strip() == "active [3]"

    refused = ros2(domain, "param", "set", "/sim", "camera_hz", "-1.0")
    assert "Setting parameter failed: camera_hz=-1.0 refused: must be > 0" in refused.stderr, (
        refused.stdout + refused.stderr
    )
    kept = ros2(domain, "param", "get", "/sim", "camera_hz")
    assert "10.0" in kept.stdout, kept.stdout + kept.stderr

    os.killpg(proc.popen.pid, signal.SIGINT)  # a terminal's Ctrl-C: every process of the group gets it
    assert proc.wait(60) == 0, proc.output
    assert "process has died" not in proc.output
    if how == "ros2 launch":
        finished = re.findall(r"\[(\w+)-\d+\]: process has finished cleanly", proc.output)
        assert sorted(finished) == ["lifecycle_manager", "oracle_node", "sim_node"], proc.output
    # the manager took the graph down in reverse order: the oracle all the way, then the sim
    out = proc.output
    assert (
        out.index("oracle: deactivate done")
        < out.index("oracle: shutdown done")
        < out.index("sim: deactivate done")
        < out.index("sim: shutdown done")
    ), out
