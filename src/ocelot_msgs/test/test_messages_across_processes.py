"""Each custom message crosses a process boundary over DDS and arrives intact; so does the service."""

import importlib.util
import sys
from pathlib import Path

import pytest
from rclpy.qos import QoSDurabilityPolicy, QoSProfile
from ros_probe import RosProbe

from ocelot_common.processes import Proc, fresh_domain_id

SCRIPT = Path(__file__).with_name("sample_messages.py")


def load_samples():
    spec = importlib.util.spec_from_file_location("sample_messages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.samples()


@pytest.fixture(scope="module")
def publisher_and_probe():
    domain = fresh_domain_id()
    proc = Proc([sys.executable, str(SCRIPT)], domain)
    proc.wait_line("publishing", 30)
    probe = RosProbe(domain)
    yield proc, probe
    probe.close()
    proc.kill()


@pytest.mark.parametrize("name", list(load_samples()))
def test_message_round_trip(publisher_and_probe, name):
    _, probe = publisher_and_probe
    expected = load_samples()[name]
    received = []
    latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    sub = probe.node.create_subscription(type(expected), f"/samples/{name}", received.append, latched)
    try:
        probe.spin_until(lambda: received, 15, f"a {name} message from the other process")
    finally:
        probe.node.destroy_subscription(sub)
    assert received[0] == expected


def test_reset_episode_service(publisher_and_probe):
    from ocelot_msgs.srv import ResetEpisode

    _, probe = publisher_and_probe
    client = probe.node.create_client(ResetEpisode, "/samples/reset_episode")
    probe.spin_until(client.service_is_ready, 15, "the ResetEpisode service")
    for seed, ok in ((5, True), (-1, False)):
        future = client.call_async(ResetEpisode.Request(seed=seed, spec_yaml="faces: []"))
        probe.spin_until(future.done, 10, "the ResetEpisode answer")
        response = future.result()
        assert response.success is ok
        assert response.info.seed == seed and response.info.label_key == "multi_left"
        assert ok or "seed" in response.message
