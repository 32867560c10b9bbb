"""The sim and oracle nodes over real DDS: topics, the reset service, bad input, closed-loop tracking."""

import math

import numpy as np
import pytest
from geometry_msgs.msg import Twist
from rclpy.qos import QoSDurabilityPolicy, QoSProfile
from ros_probe import RosProbe
from sensor_msgs.msg import Image

from ocelot_common.processes import LaunchProc, fresh_domain_id
from ocelot_msgs.msg import Command, GroundTruthFaceArray
from ocelot_msgs.srv import ResetEpisode


@pytest.fixture(scope="module")
def stack():
    domain = fresh_domain_id()
    graph = LaunchProc(["ocelot", "launch", "sim", "seed:=12"], domain)
    graph.wait_line("graph 'sim' active", 90)
    probe = RosProbe(domain)
    yield graph, probe
    probe.close()
    graph.kill()


def collect(probe, msg_type, topic, n, timeout=30, qos=10):
    got = []
    sub = probe.node.create_subscription(msg_type, topic, got.append, qos)
    try:
        probe.spin_until(lambda: len(got) >= n, timeout, f"{n} messages on {topic}")
    finally:
        probe.node.destroy_subscription(sub)
    return got


def reset(probe, seed, spec=""):
    client = probe.node.create_client(ResetEpisode, "/sim/reset")
    try:
        probe.spin_until(client.service_is_ready, 20, "the /sim/reset service")
        future = client.call_async(ResetEpisode.Request(seed=seed, spec_yaml=spec, episode_index=seed))
        probe.spin_until(future.done, 20, "the reset answer")
        return future.result()
    finally:
        probe.node.destroy_client(client)


def test_camera_frames(stack):
    _, probe = stack
    image = collect(probe, Image, "/camera/image_raw", 1)[0]
    assert (image.width, image.height, image.encoding, image.step) == (640, 480, "rgb8", 1920)
    assert len(image.data) == 640 * 480 * 3


def test_oracle_keeps_the_target_centred_over_ros(stack):
    _, probe = stack
    assert reset(probe, 31, "label_key: track\nfaces: [{motion: sine, speed: 0.3}]").success
    faces = collect(probe, GroundTruthFaceArray, "/ground_truth/faces", 60)
    errors = [
        math.hypot(m.faces[m.target_index].pixel_u - 320, m.faces[m.target_index].pixel_v - 240)
        for m in faces[15:]
        if m.header.stamp.sec > 0
    ]
    assert len(errors) > 30 and np.mean(errors) <= 2.0, np.mean(errors)


def test_reset_publishes_the_new_command(stack):
    _, probe = stack
    result = reset(probe, 44, "label_key: multi_left\ncommand: watch the left one")
    assert result.success and result.info.label_key == "multi_left" and result.info.num_faces >= 2
    latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    got = []
    sub = probe.node.create_subscription(Command, "/command", got.append, latched)
    try:  # the reset takes effect at the next answer boundary: the old latched command may come first
        probe.spin_until(lambda: any(c.label_key == "multi_left" for c in got), 20, "the new episode's /command")
    finally:
        probe.node.destroy_subscription(sub)
    assert next(c.command for c in got if c.label_key == "multi_left") == "watch the left one"


@pytest.mark.parametrize(
    "spec, field",
    [
        ("faces: [{texture: 'photo:nobody'}]", "faces[0].texture"),
        ("faces: [{distance_m: 9}]", "faces[0].distance_m"),
        ("faces: [{speed: -1}]", "faces[0].speed"),
        ("label_key: [unclosed", "not valid YAML"),
    ],
)
def test_bad_reset_is_refused_with_the_field_named(stack, spec, field):
    graph, probe = stack
    result = reset(probe, 5, spec)
    assert not result.success and field in result.message
    collect(probe, Image, "/camera/image_raw", 2)  # still running


def test_nan_and_huge_commands_do_not_crash_the_sim(stack):
    graph, probe = stack
    pub = probe.node.create_publisher(Twist, "/cmd_vel", 10)
    probe.spin_until(lambda: pub.get_subscription_count() > 0, 10, "the sim subscribing /cmd_vel")
    for value in (math.nan, math.inf, 1e12, -1e12):
        twist = Twist()
        twist.angular.z = value
        twist.angular.y = -value
        pub.publish(twist)
    frames = collect(probe, Image, "/camera/image_raw", 5)
    assert len(frames) == 5 and "Traceback" not in graph.output
    probe.node.destroy_publisher(pub)


def test_under_the_pi4_profile_the_oracle_keeps_the_target_centred_over_ros():
    """The profile travels on /episode/info; the oracle takes it from there, with the commands the sim applied."""
    from ocelot_msgs.msg import EpisodeInfo
    from ocelot_sim.robot_profile import load_profile
    from ocelot_sim.ros_convert import robot_from_msg

    domain = fresh_domain_id()
    graph = LaunchProc(["ocelot", "launch", "sim", "seed:=12", "robot_profile:=pi4"], domain)
    probe = RosProbe(domain)
    try:
        graph.wait_line("graph 'sim' active", 90)
        result = reset(probe, 31, "label_key: track\nfaces: [{motion: sine, speed: 0.3}]")
        assert result.success and robot_from_msg(result.info.robot) == load_profile("pi4")
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        info = collect(probe, EpisodeInfo, "/episode/info", 1, qos=latched)[0]
        assert info.robot.name == "pi4" and info.robot.command_latency_s == pytest.approx(0.1)
        faces = collect(probe, GroundTruthFaceArray, "/ground_truth/faces", 60)
        errors = [
            math.hypot(m.faces[m.target_index].pixel_u - 320, m.faces[m.target_index].pixel_v - 240)
            for m in faces[15:]
            if m.header.stamp.sec > 0
        ]
        assert len(errors) > 30 and np.mean(errors) <= 2.0, np.mean(errors)
    finally:
        probe.close()
        graph.kill()
    print(graph.output)


def test_an_unknown_robot_profile_fails_the_bring_up_with_the_reason():
    graph = LaunchProc(["ocelot", "launch", "sim", "robot_profile:=pi5"], fresh_domain_id())
    try:
        graph.wait_line("no robot profile 'pi5'", 90)
    finally:
        graph.kill()
    assert "graph 'sim' active" not in graph.output
