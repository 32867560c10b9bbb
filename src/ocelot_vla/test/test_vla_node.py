"""The VLA node over real DDS: commands out when active, silence when not, watchdog, estop, bad input."""

import math
import shutil

import numpy as np
import onnx
import pytest
from gate_reports import write_gate_report
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from ros_probe import RosProbe
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from ocelot_common.model_files import sha256_of
from ocelot_common.processes import Proc, WaitTimeout, fresh_domain_id, wait_for
from ocelot_msgs.msg import PolicyStatus


class VLAUnderTest:
    def __init__(self, model, **params):
        self.domain = fresh_domain_id()
        args = [f"model_path:={model}", "stale_image_timeout:=0.4", *(f"{k}:={v}" for k, v in params.items())]
        self.proc = Proc([_executable(), "--ros-args", *sum((["-p", a] for a in args), [])], self.domain)
        self.probe = RosProbe(self.domain)
        node = self.probe.node
        self.cmds, self.status = [], []
        self.cmd_subscription = node.create_subscription(Twist, "/cmd_vel", self.cmds.append, 50)
        self.status_subscription = node.create_subscription(PolicyStatus, "/vla/status", self.status.append, 50)
        self.images = node.create_publisher(Image, "/camera/image_raw", 10)
        self.estop = node.create_publisher(Bool, "/vla/estop", 10)
        self._change = node.create_client(ChangeState, "/vla/change_state")
        self._get = node.create_client(GetState, "/vla/get_state")
        self._params = node.create_client(SetParameters, "/vla/set_parameters")
        self.probe.spin_until(
            lambda: self._change.service_is_ready() and self._get.service_is_ready(),
            60,
            "the VLA node's lifecycle services",
        )
        # a service can be "ready" (our requests reach it) before its replies reach us, and a reply sent then is
        # lost; one answered call per service, with requests that change nothing, proves the way back
        self._answered(self._get, GetState.Request())
        self._answered(self._change, ChangeState.Request(transition=Transition(label="deactivate")))

    def _answered(self, client, request) -> None:
        def answered():
            future = client.call_async(request)
            try:
                self.probe.spin_until(future.done, 2, f"an answer from {client.srv_name}")
            except WaitTimeout:
                client.remove_pending_request(future)
                return False
            return True

        wait_for(answered, 60, f"a first answer from {client.srv_name}", interval=0.0)

    def call(self, client, request):
        future = client.call_async(request)
        self.probe.spin_until(future.done, 30, f"an answer from {client.srv_name}")
        return future.result()

    def transition(self, label: str) -> bool:
        return self.call(self._change, ChangeState.Request(transition=Transition(label=label))).success

    def state(self) -> str:
        return self.call(self._get, GetState.Request()).current_state.label

    def set_param(self, name: str, value) -> bool:
        kind = {
            str: (ParameterType.PARAMETER_STRING, "string_value"),
            float: (ParameterType.PARAMETER_DOUBLE, "double_value"),
            bool: (ParameterType.PARAMETER_BOOL, "bool_value"),
        }[type(value)]
        pv = ParameterValue(type=kind[0], **{kind[1]: value})
        return (
            self.call(self._params, SetParameters.Request(parameters=[Parameter(name=name, value=pv)]))
            .results[0]
            .successful
        )

    def send(self, n=1, encoding="rgb8", width=640, height=480, wait=0.08, publisher=None):
        """Publish n images, `wait` s apart (the node keeps only the newest two: a burst is thinned), to a
        configured node. Its answers are heard from the first: a command sent before the test's subscriptions
        match its publishers would be lost, and a test may count on one (a single zero command, say)."""
        channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "16UC1": 2}[encoding]
        publisher = publisher or self.images
        self.probe.spin_until(lambda: publisher.get_subscription_count() > 0, 30, "the node's image subscription")
        self.probe.spin_until(
            lambda: (
                self.cmd_subscription.get_publisher_count() > 0 and self.status_subscription.get_publisher_count() > 0
            ),
            30,
            "the node's /cmd_vel and /vla/status publishers",
        )
        for i in range(n):
            msg = Image(height=height, width=width, encoding=encoding, step=width * channels)
            msg.data = np.random.default_rng(i).integers(0, 255, height * width * channels, dtype=np.uint8).tobytes()
            publisher.publish(msg)
            self.probe.spin_until(lambda: True, 1, "")
            if wait:
                self.spin(wait)

    def spin(self, seconds: float):
        import time

        end = time.monotonic() + seconds
        self.probe.spin_until(lambda: time.monotonic() >= end, seconds + 5, "time to pass")

    def close(self):
        self.probe.close()
        self.proc.kill()


def _executable():
    """The installed node of whichever workspace is sourced (the development one, or the robot's footprint)."""
    import os

    from ament_index_python.packages import get_package_prefix

    return os.path.join(get_package_prefix("ocelot_vla"), "lib", "ocelot_vla", "vla_node")


@pytest.fixture
def vla(tiny_model):
    node = VLAUnderTest(tiny_model)
    yield node
    node.close()
    print(node.proc.output)  # shown when the test failed


def test_commands_only_when_active(vla):
    assert vla.transition("configure") and vla.state() == "inactive"
    vla.send(3, wait=0.1)
    assert vla.cmds == []  # inactive: nothing
    assert vla.transition("activate")
    vla.send(5, wait=0.2)  # the first frames meet a cold node: a burst would be thinned to its newest two
    vla.probe.spin_until(lambda: len(vla.status) >= 5, 20, "five policy steps")
    moving = [c for c in vla.cmds if abs(c.angular.z) > 1e-3]
    assert moving and all(abs(c.angular.z) <= 1.0 and abs(c.angular.y) <= 1.0 for c in vla.cmds)
    assert all(s.latency_ms > 0 and not s.guarded for s in vla.status)
    assert vla.transition("deactivate")
    vla.probe.spin_until(lambda: vla.cmds[-1].angular.z == 0.0, 10, "a zero command on deactivate")


def test_watchdog_and_estop(vla):
    assert vla.transition("configure") and vla.transition("activate")
    vla.send(3)
    vla.probe.spin_until(lambda: len(vla.status) >= 3, 20, "three policy steps")
    vla.spin(1.0)  # no images for more than stale_image_timeout
    zeros = [c for c in vla.cmds[3:] if c.angular.z == 0.0 and c.angular.y == 0.0]
    assert len(zeros) == 1 and len(vla.cmds) == 4  # one zero command, then silence
    vla.estop.publish(Bool(data=True))
    vla.spin(0.3)
    vla.send(3)
    vla.probe.spin_until(lambda: len(vla.status) >= 6, 20, "three more policy steps")
    assert all(s.estop and s.pan_vel == 0.0 for s in vla.status[3:])
    vla.estop.publish(Bool(data=False))
    vla.spin(0.3)
    vla.send(2)
    vla.probe.spin_until(lambda: len(vla.status) >= 8, 20, "steps after the release")
    assert not vla.status[-1].estop and vla.status[-1].pan_vel != 0.0


def test_bad_images_are_rejected_not_fatal(vla):
    assert vla.transition("configure") and vla.transition("activate")
    vla.send(1, encoding="16UC1", wait=0.2)
    vla.send(1, width=0, height=0, wait=0.2)
    assert vla.status == []
    for encoding in ("bgr8", "mono8", "rgba8"):
        vla.send(1, encoding=encoding, width=320, height=200)
    vla.probe.spin_until(lambda: len(vla.status) >= 3, 20, "answers to bgr8, mono8 and rgba8 images")
    assert vla.proc.popen.poll() is None


def _nan_model(tiny_model, root):
    for path in tiny_model.parent.iterdir():
        shutil.copy(path, root / path.name)
    model = onnx.load(root / "model.onnx")
    for node in model.graph.node:
        node.output[:] = ["actions_raw" if o == "actions" else o for o in node.output]
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array([math.nan], np.float32), "nan"))
    model.graph.node.append(onnx.helper.make_node("Mul", ["actions_raw", "nan"], ["actions"]))
    onnx.save(model, root / "model.onnx")
    return root / "model.onnx"


def _failing_model(tiny_model, root):
    """Loads and has the right inputs and outputs, but every run raises in onnxruntime (a bad reshape)."""
    root.mkdir()
    for path in tiny_model.parent.iterdir():
        shutil.copy(path, root / path.name)
    model = onnx.load(root / "model.onnx")
    for node in model.graph.node:
        node.output[:] = ["actions_raw" if o == "actions" else o for o in node.output]
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array([3], np.int64), "bad_shape"))
    model.graph.node.append(onnx.helper.make_node("Reshape", ["actions_raw", "bad_shape"], ["actions"]))
    onnx.save(model, root / "model.onnx")
    return root / "model.onnx"


def test_enabled_false_stops_the_motors(vla):
    assert vla.transition("configure") and vla.transition("activate")
    vla.send(3)
    vla.probe.spin_until(lambda: len(vla.status) >= 3, 20, "three policy steps")
    assert vla.cmds[-1].angular.z != 0.0  # the tiny model's head bias turns the camera
    sent = len(vla.cmds)
    assert vla.set_param("enabled", False)
    vla.send(3, wait=0.1)  # the camera goes on (the watchdog stays fed): the zero is enabled's own
    assert [(c.angular.z, c.angular.y) for c in vla.cmds[sent:]] == [(0.0, 0.0)]  # one zero, then silence
    assert len(vla.status) == 3  # images are not answered while disabled
    assert vla.set_param("enabled", True)
    vla.send(2)
    vla.probe.spin_until(lambda: len(vla.status) >= 4, 20, "answers once enabled again")


def test_an_inference_that_raises_stops_the_motors_and_leaves_the_node_unconfigured(tiny_model, tmp_path):
    node = VLAUnderTest(_failing_model(tiny_model, tmp_path / "failing"))
    try:
        assert node.transition("configure") and node.transition("activate")
        node.send(1, wait=0.3)
        node.probe.spin_until(lambda: node.cmds and node.cmds[-1].angular.z == 0.0, 10, "a zero command")
        node.probe.spin_until(lambda: node.state() == "unconfigured", 10, "the error path to unconfigured")
        assert "inference failed" in node.proc.output and node.status == []
        assert all(c.angular.z == 0.0 and c.angular.y == 0.0 for c in node.cmds)
        assert node.proc.popen.poll() is None  # alive, and configurable again
        assert node.set_param("model_path", str(tiny_model))
        assert node.transition("configure") and node.transition("activate")
        node.send(2)
        node.probe.spin_until(lambda: len(node.status) >= 1, 20, "answers from the good model")
    finally:
        node.close()


def test_a_best_effort_camera_is_answered(vla):
    from rclpy.qos import QoSReliabilityPolicy, qos_profile_sensor_data

    camera = vla.probe.node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    assert vla.transition("configure") and vla.transition("activate")
    # best effort loses large frames here, more so on a loaded machine: send smaller ones until one is answered
    for _ in range(80):
        vla.send(1, width=320, height=240, publisher=camera, wait=0.15)
        if vla.status:
            break
    assert vla.status, "no answer to a sensor-data (best effort) camera"
    subscriptions = vla.probe.node.get_subscriptions_info_by_topic("/camera/image_raw")
    assert [info.qos_profile.reliability for info in subscriptions] == [QoSReliabilityPolicy.BEST_EFFORT]


def _wrong_inputs_model(tiny_model, root):
    root.mkdir()
    for path in tiny_model.parent.iterdir():
        shutil.copy(path, root / path.name)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])],
    )
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), root / "model.onnx")
    return root / "model.onnx"


def test_bad_models_leave_the_node_alive_and_configurable(tiny_model, tmp_path):
    (tmp_path / "junk.onnx").write_text("junk")
    node = VLAUnderTest(tmp_path / "missing.onnx")
    try:
        assert not node.transition("configure") and node.state() == "unconfigured"
        for bad in (tmp_path / "junk.onnx", _wrong_inputs_model(tiny_model, tmp_path / "wrong")):
            assert node.set_param("model_path", str(bad))
            assert not node.transition("configure") and node.state() == "unconfigured"
        assert node.set_param("model_path", str(tiny_model))
        assert node.set_param("expected_sha256", "f" * 64)
        assert not node.transition("configure")
        assert node.set_param("expected_sha256", sha256_of(tiny_model))
        assert not node.set_param("max_velocity", -1.0)  # rejected by the parameter callback
        assert not node.set_param("language_cmd", " ")
        assert node.transition("configure") and node.state() == "inactive"
        assert node.transition("cleanup") and node.state() == "unconfigured"
        assert node.set_param("model_path", str(_nan_model(tiny_model, tmp_path)))
        assert node.set_param("expected_sha256", "")
        assert node.transition("configure") and node.transition("activate")
        node.send(2)
        node.probe.spin_until(lambda: len(node.status) >= 2, 20, "answers from the NaN model")
        assert all(s.guarded and s.pan_vel == 0.0 and math.isnan(s.raw_pan_vel) for s in node.status)
        assert all(c.angular.z == 0.0 for c in node.cmds)
        assert node.proc.popen.poll() is None
    finally:
        node.close()


def test_only_a_model_whose_eval_report_passes_is_configured(tiny_model, tmp_path):
    failed = write_gate_report(tmp_path / "fail.json", tiny_model, False)
    node = VLAUnderTest(tiny_model, eval_report=str(failed))
    try:
        assert not node.transition("configure") and node.state() == "unconfigured"
        node.probe.spin_until(lambda: "failed its gate" in node.proc.output, 10, "the reason in the log")
        other = write_gate_report(tmp_path / "other.json", tiny_model, True, policy_sha="0" * 64)
        assert node.set_param("eval_report", str(other))
        assert not node.transition("configure")
        node.probe.spin_until(lambda: "refusing a model that is not the one" in node.proc.output, 10, "the reason")
        assert node.set_param("eval_report", str(write_gate_report(tmp_path / "pass.json", tiny_model, True)))
        assert node.transition("configure") and node.state() == "inactive"
        assert "gated by" in node.proc.output
    finally:
        node.close()


def test_it_says_when_it_is_slower_than_the_latency_its_model_was_gated_at(tiny_model, tmp_path):
    instant = write_gate_report(tmp_path / "ideal.json", tiny_model, True, latency_s=0.0)  # gated with no latency
    node = VLAUnderTest(tiny_model, eval_report=str(instant))
    try:
        assert node.transition("configure") and node.transition("activate")
        node.send(3)
        node.probe.spin_until(lambda: len(node.status) >= 3, 20, "three policy steps")
        assert all(s.slower_than_gate and s.gated_latency_ms == 0.0 for s in node.status)
        latencies = [s.latency_ms for s in node.status[:3]]
        assert min(latencies) * 0.999 <= node.status[2].latency_p95_ms <= max(latencies) * 1.001  # over the window
        node.probe.spin_until(lambda: "slower than the gate" in node.proc.output, 10, "the warning")
        # a gate measured with ten seconds of latency: this loop is well inside it
        assert node.transition("deactivate") and node.transition("cleanup")
        generous = write_gate_report(tmp_path / "slow.json", tiny_model, True, latency_s=10.0)
        assert node.set_param("eval_report", str(generous))
        assert node.transition("configure") and node.transition("activate")
        count = len(node.status)
        node.send(3)
        node.probe.spin_until(lambda: len(node.status) >= count + 3, 20, "three more policy steps")
        assert all(not s.slower_than_gate and s.gated_latency_ms == 10000.0 for s in node.status[count:])
    finally:
        node.close()


def test_without_an_eval_report_there_is_no_gate_to_be_slower_than(vla):
    assert vla.transition("configure") and vla.transition("activate")
    vla.send(2)
    vla.probe.spin_until(lambda: len(vla.status) >= 2, 20, "two policy steps")
    assert all(math.isnan(s.gated_latency_ms) and not s.slower_than_gate for s in vla.status)
    # a model without a target read-out has no estimate to publish
    assert all(not s.has_target and math.isnan(s.target_u) for s in vla.status)


def test_follows_the_command_topic_and_feeds_back_its_previous_command_and_target(tmp_path):
    from contract_models import write_contract_model
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile

    from ocelot_msgs.msg import Command

    model = write_contract_model(tmp_path, head_bias=(0.2, 0.1), previous_action=True, previous_target=True)
    node = VLAUnderTest(model, command_topic="/command")
    try:
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        commands = node.probe.node.create_publisher(Command, "/command", latched)
        assert node.transition("configure") and node.transition("activate")

        def step(stamp_s: float, seed: int = 0) -> PolicyStatus:
            msg = Image(height=48, width=64, encoding="rgb8", step=64 * 3)
            msg.data = np.random.default_rng(seed).integers(0, 255, 48 * 64 * 3, dtype=np.uint8).tobytes()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int(round(stamp_s % 1 * 1e9))
            count = len(node.status)
            node.probe.spin_until(lambda: node.images.get_subscription_count() > 0, 30, "the image subscription")
            node.images.publish(msg)
            node.probe.spin_until(lambda: len(node.status) > count, 20, "the answer to an image")
            return node.status[-1]

        first, second = step(0.0), step(0.1)
        assert second.raw_pan_vel != first.raw_pan_vel  # same image, but now with a previous command
        # its own estimate of the target, in the pixels of the image it answered (64x48 here)
        assert first.has_target and math.isfinite(first.target_u) and math.isfinite(first.target_v)
        assert -64 < first.target_u < 128 and -48 < first.target_v < 96
        step(0.2, seed=1)  # another image: another target estimate to feed back
        restarted = step(0.0)  # the camera clock jumped back: no previous command or estimate any more
        assert restarted.raw_pan_vel == pytest.approx(first.raw_pan_vel, abs=1e-6)

        commands.publish(Command(label_key="multi_left", command="follow the person on the left"))
        node.probe.spin_until(
            lambda: "follow the person on the left" in node.proc.output,
            20,
            "the node to take the command from /command",
        )
        other = step(0.0)
        assert other.raw_pan_vel != pytest.approx(first.raw_pan_vel, abs=1e-6)
    finally:
        node.close()
