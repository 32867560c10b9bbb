"""VLA lifecycle node: camera images + a language command -> /cmd_vel, through the exported ONNX policy.

- on_configure: load and check the model, encode language_cmd. With eval_report set (the robot), the
  report must be a PASS of the deploy gate (or of a gate in accepted_gates) and every model file must
  have the sha256 it records; expected_sha256 checks the per-frame graph alone. FAILURE (logged, node
  alive and unconfigured) on any problem.
- on_activate: images are answered; /cmd_vel (Twist: angular.z pan, angular.y tilt) and
  /cmd_vel_stamped (stamped with the image it answers, for a lockstep sim) are published.
- per frame: shared preprocessing, inference (models that take them also get the command sent for the
  frame before and their own target estimate on it), NaN/inf guard, clip, acceleration limit, smoothing.
  A camera clock that does not move forward (a restarted camera or simulator episode, whose frame 0 may
  carry the same stamp as the frame before) starts from rest.
- command_topic (ocelot_msgs/Command, optional): each message's command replaces the current one
  (the sim publishes each episode's command on /command; evaluation follows it).
- ~/estop (std_msgs/Bool): true latches zero velocity until false.
- watchdog: no image for stale_image_timeout -> one zero command, then silence until images return. It
  runs on the node's clock: wall time on the robot, the sim's /clock with use_sim_time (a lockstep loop that
  stalls on a busy CPU stalls its clock too, so a stall never resets the policy mid-episode; and an image
  counts as seen no earlier than its own stamp, since /clock may reach the node after the frame).
- enabled set to false: one zero command, then images are not answered until it is true again.
- an inference that raises: one zero command, then the lifecycle error path (on_error releases the model;
  the node is alive and unconfigured, the reason in its log).
- image_reliability: auto (the default) subscribes as the camera publishes: best effort when a publisher of
  image_topic is best effort (drivers with sensor-data QoS, which a reliable subscription never matches),
  reliable otherwise (lossless for large frames); reliable or best_effort fix it.
- on_deactivate: one zero command. ~/status (ocelot_msgs/PolicyStatus), per frame: latency, what was sent,
  and the model's own estimate of where the commanded face is on that image (models with a target read-out),
  in the image's pixels.
- slower than the gate: with eval_report set, the p95 of image-in to command-out latency over the last
  LATENCY_WINDOW frames is compared with the command latency of the robot profile the report was measured
  under; above it, a warning is logged and ~/status says slower_than_gate (the gate's verdict assumed a
  faster loop).
Imports only rclpy, messages, numpy, OpenCV, onnxruntime and tokenizers: this is what runs on the Pi.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from ocelot_common.images import image_to_rgb
from ocelot_common.lifecycle import ManagedNode, run_node
from ocelot_common.parameters import at_least, not_blank, one_of, positive, refuse_bad_values
from ocelot_common.preprocessing import unit_to_image_point
from ocelot_common.stamps import seconds
from ocelot_msgs.msg import Command, PolicyStatus
from ocelot_vla.command_shaping import CommandShaper, ShapingLimits, Watchdog, frame_interval
from ocelot_vla.onnx_policy import OnnxPolicy, PolicyLoadError, gated_model

IMAGE_RELIABILITY = {
    "auto": None,
    "best_effort": QoSReliabilityPolicy.BEST_EFFORT,
    "reliable": QoSReliabilityPolicy.RELIABLE,
}
LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
_LIMITS = ShapingLimits()
LATENCY_WINDOW = 50  # frames: 5 s at 10 Hz, long enough that one slow frame is not a p95
PARAMETERS = {
    "model_path": "",
    "language_cmd": "track the face",
    "enabled": True,
    "max_velocity": _LIMITS.max_velocity,
    "max_acceleration": _LIMITS.max_acceleration,
    "smoothing": _LIMITS.smoothing,
    "image_topic": "/camera/image_raw",
    "image_reliability": "auto",
    "cmd_topic": "/cmd_vel",
    "stale_image_timeout": 0.3,
    "expected_sha256": "",
    "intra_op_threads": 1,
    "command_topic": "",
    "eval_report": "",
    "accepted_gates": "",
}


class VLANode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vla", **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        self.policy: OnnxPolicy | None = None
        self.shaper: CommandShaper | None = None
        self.watchdog: Watchdog | None = None
        self._last_stamp = None
        self._fault = ""
        self._images = None  # (subscription, reliability)
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._gated_latency_ms = math.nan  # the eval report's profile latency; NaN: not gated
        refuse_bad_values(
            self,
            {
                "stale_image_timeout": positive,
                "intra_op_threads": at_least(1),
                "language_cmd": not_blank,
                "image_reliability": one_of(IMAGE_RELIABILITY),
            },
            together=self._limits,
            then=self._apply_parameters,
        )

    # -- lifecycle ---------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive; FAILURE (stays unconfigured, alive) on a bad model or parameter."""
        p = self.param
        try:
            if not p("model_path"):
                raise PolicyLoadError("model_path is empty; set it to a model.onnx written by `ocelot export`")
            limits = self._limits({})
            watchdog = Watchdog(float(p("stale_image_timeout")))
            threads = int(p("intra_op_threads"))
            if threads < 1:
                raise ValueError(f"intra_op_threads must be >= 1, got {threads}")
            one_of(IMAGE_RELIABILITY)(p("image_reliability"))
            expected = {"policy": str(p("expected_sha256")).strip().lower()}
            gated_latency_ms = math.nan
            if p("eval_report"):
                gated = gated_model(p("eval_report"), str(p("accepted_gates")))
                if expected["policy"] and expected["policy"] != gated.files["policy"]:
                    raise PolicyLoadError(
                        f"expected_sha256 {expected['policy']} is not the model {p('eval_report')} "
                        f"passed ({gated.files['policy']}); leave expected_sha256 empty to take it "
                        "from the report"
                    )
                expected, gated_latency_ms = gated.files, gated.command_latency_s * 1e3
            policy = OnnxPolicy(p("model_path"), threads, expected)
            policy.set_command(str(p("language_cmd")))
        except (PolicyLoadError, ValueError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.policy, self.shaper, self.watchdog = policy, CommandShaper(limits), watchdog
        self._gated_latency_ms = gated_latency_ms
        self.pubs = {
            "cmd": self.own(self.create_lifecycle_publisher(Twist, p("cmd_topic"), 10)),
            "answer": self.own(self.create_lifecycle_publisher(TwistStamped, "/cmd_vel_stamped", 10)),
            "status": self.own(self.create_lifecycle_publisher(PolicyStatus, "~/status", 10)),
        }
        if p("command_topic"):  # made before the image subscription: when both are ready, it is served first
            self.own(self.create_subscription(Command, p("command_topic"), self._on_command, LATCHED))
        self._subscribe_images(self._wanted_reliability() or QoSReliabilityPolicy.RELIABLE)
        self.own(self.create_subscription(Bool, "~/estop", self._on_estop, 10))
        self.own(self.create_timer(min(0.05, watchdog.timeout / 4), self._on_watchdog))
        gate = f", gated by {p('eval_report')} at {gated_latency_ms:.0f} ms command latency" if p("eval_report") else ""
        self.get_logger().info(
            f"configured: {p('model_path')} ({policy.max_tokens} command tokens{gate}), command {policy.command!r}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> active: images are answered from now on; the watchdog starts counting."""
        self._start_from_rest()
        self.watchdog.image(self._now())  # a camera that never sends counts as stale too
        self._last_stamp = None
        self._fault = ""
        self._latencies.clear()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: a last zero command so the motors stop; ERROR (-> on_error) after a fault."""
        self._publish_zero()
        super().on_deactivate(state)
        return TransitionCallbackReturn.ERROR if self._fault else TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """errorprocessing -> unconfigured: the model is released; configure again to resume."""
        self.get_logger().error(
            f"stopped after a fault ({self._fault or 'a transition failed'}); the motors were "
            "sent zero and the node is unconfigured: configure and activate it to resume"
        )
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def release(self) -> None:
        super().release()
        self._images = None
        self.policy = None

    # -- image subscription ----------------------------------------------------------
    def _wanted_reliability(self):
        """The reliability to subscribe with; None: keep the current one (auto, and no publisher yet)."""
        fixed = IMAGE_RELIABILITY[self.get_parameter("image_reliability").value]
        if fixed is not None:
            return fixed
        publishers = self.get_publishers_info_by_topic(self.get_parameter("image_topic").value)
        if not publishers:
            return None
        best_effort = any(info.qos_profile.reliability == QoSReliabilityPolicy.BEST_EFFORT for info in publishers)
        return QoSReliabilityPolicy.BEST_EFFORT if best_effort else QoSReliabilityPolicy.RELIABLE

    def _subscribe_images(self, reliability) -> None:
        if self._images is not None:
            old = self._images[0]
            self._owned.remove(old)
            self.destroy_subscription(old)
        sub = self.own(
            self.create_subscription(
                Image,
                self.get_parameter("image_topic").value,
                self._on_image,
                QoSProfile(depth=2, reliability=reliability),
            )
        )
        self._images = (sub, reliability)

    def _follow_the_camera_qos(self) -> None:
        wanted = self._wanted_reliability()
        if self._images is not None and wanted is not None and wanted != self._images[1]:
            self.get_logger().info(
                f"image subscription now {wanted.name.lower()} (as {self.get_parameter('image_topic').value} "
                "is published)"
            )
            self._subscribe_images(wanted)

    # -- parameters ----------------------------------------------------------------
    def _limits(self, updates: dict) -> ShapingLimits:
        """The shaping limits with `updates` applied to the current values; ValueError names a bad one."""
        names = ("max_velocity", "max_acceleration", "smoothing")
        return ShapingLimits(*(float(updates.get(n, self.get_parameter(n).value)) for n in names))

    def _apply_parameters(self, values: dict) -> None:
        """Changes take effect at once: limits, the stale-image timeout, the command (re-encoded)."""
        if "language_cmd" in values and self.policy is not None:
            self.policy.set_command(str(values["language_cmd"]))
            self.get_logger().info(f"command now {values['language_cmd']!r}")
        if self.shaper is not None:
            self.shaper.limits = self._limits(values)
        if self.watchdog is not None and "stale_image_timeout" in values:
            self.watchdog.timeout = float(values["stale_image_timeout"])
        if values.get("enabled") is False and self.active:
            self.get_logger().info("enabled is false: zero velocity, images not answered until it is true")
            self._publish_zero()

    # -- per frame -------------------------------------------------------------------
    def _now(self) -> float:
        """The node's clock in seconds: the sim's /clock under use_sim_time, wall time otherwise."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _image_time(self, stamp: float) -> float:
        """When an image counts as seen, for the watchdog: now, on the node's clock. On sim time, no earlier
        than the frame's own stamp (the sim time it was taken at): /clock and the images travel apart, and a
        clock that lags the frames it has already sent must not make them look stale."""
        now = self._now()
        return max(now, stamp) if self.get_clock().ros_time_is_active else now

    def _on_image(self, msg: Image) -> None:
        received = time.monotonic()  # latency is wall time whatever the clock
        if not self.active:
            return
        stamp = seconds(msg.header.stamp)
        self.watchdog.image(self._image_time(stamp))
        if not self.get_parameter("enabled").value:
            return
        try:
            rgb = image_to_rgb(msg)
        except ValueError as exc:
            self.get_logger().warning(f"image rejected: {exc}", throttle_duration_sec=5.0)
            return
        if self._last_stamp is not None and stamp <= self._last_stamp:
            self._start_from_rest()  # a new episode (the sim's clock restarts) or a restarted camera
        dt = frame_interval(self._last_stamp, stamp)  # camera time: the same in lockstep and on the robot
        self._last_stamp = stamp
        try:
            raw, inference_ms = self.policy.act(rgb, self.shaper.last)
        except Exception as exc:  # onnxruntime raises its own types; any of them must stop the motors
            self._fail(f"inference failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
            return
        shaped = self.shaper.shape(float(raw[0]), float(raw[1]), dt)
        if shaped.guarded:
            self.get_logger().error(
                f"model output {raw.tolist()} is not finite; sending zero velocity", throttle_duration_sec=2.0
            )
        self._publish(shaped.pan, shaped.tilt, msg.header.stamp)
        latency_ms = (time.monotonic() - received) * 1e3
        status = PolicyStatus(
            latency_ms=latency_ms,
            inference_ms=inference_ms,
            pan_vel=shaped.pan,
            tilt_vel=shaped.tilt,
            raw_pan_vel=float(raw[0]),
            raw_tilt_vel=float(raw[1]),
            guarded=shaped.guarded,
            estop=shaped.estop,
        )
        status.header = msg.header
        target = self.policy.last_target
        status.has_target = target is not None
        status.target_u, status.target_v = (
            unit_to_image_point(target, (rgb.shape[1], rgb.shape[0])) if target is not None else (math.nan, math.nan)
        )
        self._check_latency(latency_ms, status)
        self.pubs["status"].publish(status)

    def _check_latency(self, latency_ms: float, status: PolicyStatus) -> None:
        """The p95 over the window against the latency the model was gated at; a warning when above it."""
        self._latencies.append(latency_ms)
        status.latency_p95_ms = float(np.percentile(self._latencies, 95))
        status.gated_latency_ms = self._gated_latency_ms
        status.slower_than_gate = bool(status.latency_p95_ms > self._gated_latency_ms)  # NaN: never
        if status.slower_than_gate:
            self.get_logger().warning(
                f"slower than the gate: p95 latency {status.latency_p95_ms:.0f} ms over the last "
                f"{len(self._latencies)} frames, the model passed its gate at {self._gated_latency_ms:.0f} ms; "
                "its verdict does not cover this loop",
                throttle_duration_sec=10.0,
            )

    def _publish(self, pan: float, tilt: float, stamp=None) -> None:
        twist = Twist()
        twist.angular.z, twist.angular.y = pan, tilt
        self.pubs["cmd"].publish(twist)
        if stamp is not None:
            answer = TwistStamped(twist=twist)
            answer.header.stamp = stamp
            self.pubs["answer"].publish(answer)

    def _start_from_rest(self) -> None:
        """Forget the previous command and target estimate: the next frame is answered as an episode's first."""
        if self.shaper is not None:
            self.shaper.reset()
        if self.policy is not None:
            self.policy.reset()

    def _fail(self, reason: str) -> None:
        """Zero velocity at once, then the lifecycle error path (deactivate answers ERROR -> on_error)."""
        self._publish_zero()
        self._fault = reason
        self.get_logger().error(f"{reason}; sending zero velocity and leaving the active state")
        self.trigger_deactivate()

    def _publish_zero(self) -> None:
        self._start_from_rest()
        if self.pubs:
            self._publish(0.0, 0.0)

    def _on_command(self, msg: Command) -> None:
        if self.policy is None or not msg.command.strip() or msg.command == self.policy.command:
            return
        try:
            self.policy.set_command(msg.command)
        except ValueError as exc:
            self.get_logger().error(f"command {msg.command!r} rejected: {exc}")
            return
        self.get_logger().info(f"command now {msg.command!r} (from {self.get_parameter('command_topic').value})")

    def _on_estop(self, msg: Bool) -> None:
        if self.shaper is None or bool(msg.data) == self.shaper.estop:
            return
        self.shaper.estop = bool(msg.data)
        if self.shaper.estop:
            self.get_logger().warning("emergency stop: holding zero velocity until ~/estop is released")
            if self.active:
                self._publish_zero()
        else:
            self.get_logger().info("emergency stop released")

    def _on_watchdog(self) -> None:
        self._follow_the_camera_qos()
        if self.active and self.watchdog.check(self._now()):
            self.get_logger().warning(f"no image for {self.watchdog.timeout:.2f} s: zero velocity until images return")
            self._publish_zero()


def main(args=None) -> int:
    return run_node(VLANode, args)
