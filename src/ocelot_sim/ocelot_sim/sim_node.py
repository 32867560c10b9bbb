"""Simulator lifecycle node: the MuJoCo rig on ROS (stands in for Gazebo, its bridge and ros2_control).

Publishes /camera/image_raw (rgb8), /joint_states, /clock, /ground_truth/faces,
/command (the active label and phrasing), /episode/info, and /cmd_vel_applied
(the command each frame was answered with, stamped with that frame's time); subscribes /cmd_vel
(Twist: angular.z pan, angular.y tilt). Service ~/reset (ocelot_msgs/ResetEpisode)
starts an episode from a seed and optional overrides.

robot_profile (a name in ocelot_sim/config/robots or a YAML path) says how each
command reaches the joints and how much the camera smears (ocelot_sim.actuation,
ocelot_sim.exposure); robot_randomise ("VALUE=LOW:HIGH,...") draws some of its values
per episode from the episode's seed. /episode/info carries the values each episode runs under.

Lockstep mode: after each frame the sim waits for the controller's answer (or
`lockstep_timeout` seconds), then advances one camera period, so episodes are
deterministic and run as fast as the loop allows. Ocelot's controllers also
publish their command on /cmd_vel_stamped with the stamp of the frame they
answer; when one does, only the answer to the current frame counts, so a late
answer can never slip onto the next frame. Any other controller's first
/cmd_vel after a frame is taken as its answer. With
`frame_ack_topic` set, it also stays within ACK_WINDOW frames of a recorder's
std_msgs/Header acks (the collector's), so a recorder that falls behind is
never overrun. A reset takes
effect when the frame on hand is answered (or times out), so no answer to the
old episode can slip onto the new one's frames. Real-time mode:
one period per 1/camera_hz of wall time, whatever the controller does.
"""

from __future__ import annotations

import math
import time

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from ocelot_common.camera import CAMERA_HZ
from ocelot_common.labels import parse_label_mix
from ocelot_common.lifecycle import ManagedNode, run_node
from ocelot_common.parameters import non_negative, positive, refuse_bad_values
from ocelot_common.stamps import seconds
from ocelot_dataset.splits import split_for_seed
from ocelot_msgs.msg import Command, EpisodeInfo, GroundTruthFaceArray
from ocelot_msgs.srv import ResetEpisode
from ocelot_sim import ros_convert
from ocelot_sim.perturbation import Perturbation
from ocelot_sim.prefetch import Prefetcher
from ocelot_sim.robot_profile import RobotProfile, RobotProfileError, load_profile, parse_randomisation
from ocelot_sim.scenario import (
    ScenarioError,
    check_scenario_file,
    from_entry,
    generate,
    load_scenario_file,
    scenario_for_request,
)

RELIABLE = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
RECORDED = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)  # streams a recorder pairs up
ANSWER_TOPIC = "/cmd_vel_stamped"  # TwistStamped echoing the stamp of the frame it answers
ACK_WINDOW = 5  # frames the sim may run ahead of a recorder's ack: overlap, never overrun its queues
ACK_TIMEOUT_S = 5.0  # a recorder this far behind is taken to be gone
COMMAND_ACK_TIMEOUT_S = 2.0  # lockstep: how long a new episode waits for its command to reach the controller
LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def _perturbation_fits(values: dict) -> None:
    Perturbation(int(values["perturb_interval"]), float(values["perturb_range"]), int(values["perturb_hold"]))


class SimNode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim", **kwargs)
        for name, default in [
            ("seed", 0),
            ("scenario_file", ""),
            ("lockstep", True),
            ("lockstep_timeout", 0.5),
            ("camera_hz", CAMERA_HZ),
            ("perturb_interval", 0),
            ("perturb_range", 0.5),
            ("perturb_hold", 5),
            ("image_topic", "/camera/image_raw"),
            ("label_mix", ""),
            ("frame_ack_topic", ""),
            ("face_split_by_seed", False),
            ("robot_profile", "ideal"),
            ("robot_randomise", ""),
        ]:
            self.declare_parameter(name, default)
        refuse_bad_values(
            self,
            {
                "seed": non_negative,
                "camera_hz": positive,
                "lockstep_timeout": positive,
                "scenario_file": check_scenario_file,
                "label_mix": parse_label_mix,
                "robot_profile": load_profile,
                "robot_randomise": parse_randomisation,
            },
            together=_perturbation_fits,
        )
        self.sim = None
        self._cmd = (0.0, 0.0)
        self._waiting_since = None  # wall time the last frame went out, while waiting for its answer
        self._answered = False
        self._last_ack = 0.0  # newest frame time a recorder acknowledged
        self._pending_reset = None  # (scenario, episode index) to start once the current frame is answered
        self.episode_index = 0
        self.bad_commands = 0
        self._scenarios = None

    # -- lifecycle ---------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive: load the world and the first scenario. FAILURE on a bad parameter."""
        from ocelot_sim.rig import PanTiltSim

        p = self.param
        try:
            self.perturbation = Perturbation(
                int(p("perturb_interval")), float(p("perturb_range")), int(p("perturb_hold"))
            )
            self.label_mix = parse_label_mix(p("label_mix"))
            self.entries = load_scenario_file(p("scenario_file")) if p("scenario_file") else None
            scenario = (
                from_entry(self.entries[0], self.label_mix)
                if self.entries
                else generate(int(p("seed")), self.label_mix)
            )
            if float(p("camera_hz")) <= 0 or float(p("lockstep_timeout")) <= 0:
                raise ValueError("camera_hz and lockstep_timeout must be positive")
            self.robot, self.randomise = load_profile(p("robot_profile")), parse_randomisation(p("robot_randomise"))
            self.sim = PanTiltSim(camera_hz=float(p("camera_hz")))
        except (ScenarioError, RobotProfileError, ValueError, FileNotFoundError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.sim.reset(scenario, self.perturbation, self._robot_for(scenario))
        self._scenarios = Prefetcher(self._build_scenario)
        self.lockstep = bool(p("lockstep"))
        self.lockstep_timeout = float(p("lockstep_timeout"))
        pub = lambda *a: self.own(self.create_lifecycle_publisher(*a))  # noqa: E731
        self.pubs = {
            "image": pub(Image, p("image_topic"), RECORDED),
            "joints": pub(JointState, "/joint_states", RELIABLE),
            "clock": pub(Clock, "/clock", RELIABLE),
            "faces": pub(GroundTruthFaceArray, "/ground_truth/faces", RECORDED),
            "command": pub(Command, "/command", LATCHED),
            "info": pub(EpisodeInfo, "/episode/info", LATCHED),
            "applied": pub(TwistStamped, "/cmd_vel_applied", RECORDED),
        }
        self._wants_ack = bool(p("frame_ack_topic"))
        self.own(self.create_subscription(Twist, "/cmd_vel", self._on_cmd_vel, RELIABLE))
        self.own(self.create_subscription(TwistStamped, ANSWER_TOPIC, self._on_answer, RELIABLE))
        self.own(self.create_service(ResetEpisode, "~/reset", self._on_reset))
        self.own(
            self.create_timer(
                1.0 / float(p("camera_hz")) if not self.lockstep else self.lockstep_timeout / 5, self._on_timer
            )
        )
        if self._wants_ack:
            self.own(self.create_subscription(Header, p("frame_ack_topic"), self._on_ack, RELIABLE))
        randomised = f" (randomised: {self.randomise.text()})" if self.randomise.ranges else ""
        self.get_logger().info(
            f"configured: seed {scenario.seed}, {scenario.label_key!r}, "
            f"{'lockstep' if self.lockstep else 'real time'}, robot {self.robot.name}{randomised}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> active: publishing starts with the current frame."""
        result = super().on_activate(state)
        self._publish_episode()
        self._publish_frame()
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: the world stays where it is; nothing is published."""
        self._waiting_since = None
        return super().on_deactivate(state)

    def release(self) -> None:
        super().release()
        if self._scenarios is not None:
            self._scenarios.close()
            self._scenarios = None
        if self.sim is not None:
            self.sim.close()
            self.sim = None

    # -- episode control ---------------------------------------------------------
    def _on_reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response):
        if not request.spec_yaml.strip() and self.entries:
            n = len(self.entries)
            key, guess = ("entry", request.episode_index % n), ("entry", (request.episode_index + 1) % n)
        else:
            key, guess = ("seed", request.seed, request.spec_yaml), ("seed", request.seed + 1, request.spec_yaml)
        try:
            scenario = self._scenarios.get(key)
        except (ScenarioError, ValueError) as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f"reset refused: {exc}")
            return response
        response.success, response.message = True, ""
        response.info = ros_convert.episode_info_msg(
            scenario, int(request.episode_index), 0.0, self._robot_for(scenario)
        )
        self._pending_reset = (scenario, int(request.episode_index))
        self._scenarios.prefetch(guess)  # collection asks for consecutive seeds / entries
        if not (self.active and self.lockstep and self._waiting_since is not None):
            self._start_pending_episode()
        return response

    def _build_scenario(self, key: tuple):
        """face_split_by_seed (collection): each episode's faces come from the partition its seed hashes to."""
        by_seed = bool(self.get_parameter("face_split_by_seed").value)
        if key[0] == "entry":
            entry = self.entries[key[1]]
            return from_entry(entry, self.label_mix, split_for_seed(entry["seed"]) if by_seed else None)
        return scenario_for_request(key[1], key[2], self.label_mix, split_for_seed(key[1]) if by_seed else None)

    def _robot_for(self, scenario) -> RobotProfile:
        """The profile an episode runs under: randomised values are drawn from its seed."""
        return self.randomise.apply(self.robot, scenario.seed)

    def _start_pending_episode(self) -> None:
        """Reset the world. In lockstep this waits for the answer to the frame on hand, so that a
        late answer to the old episode can never be taken for the answer to the new one's frame 0."""
        scenario, self.episode_index = self._pending_reset
        self._pending_reset = None
        self._waiting_since = None
        self.sim.reset(scenario, self.perturbation, self._robot_for(scenario))
        self._cmd, self._last_ack = (0.0, 0.0), 0.0
        if self.active:
            self._publish_episode()
            self._publish_frame()

    # -- the loop ----------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.lockstep and self.count_publishers(ANSWER_TOPIC) > 0:
            return  # the controller answers frame by frame on ANSWER_TOPIC; that is the one to follow
        self._take(msg)

    def _on_answer(self, msg: TwistStamped) -> None:
        """A controller's answer naming the frame it answers: only the current frame's counts."""
        if not self.lockstep or abs(seconds(msg.header.stamp) - self.sim.time) < 1e-6:
            self._take(msg.twist)

    def _take(self, twist: Twist) -> None:
        pan, tilt = twist.angular.z, twist.angular.y
        if not (math.isfinite(pan) and math.isfinite(tilt)):
            self.bad_commands += 1
            self.get_logger().warning("ignoring a command with NaN or inf", throttle_duration_sec=5.0)
            pan, tilt = 0.0, 0.0
        self._cmd = (pan, tilt)
        if self.lockstep and self._waiting_since is not None:
            self._answered = True
            self._advance_when_ready()

    def _on_ack(self, msg: Header) -> None:
        """A recorder took a frame (frame_ack_topic): lockstep keeps within ACK_WINDOW frames of it."""
        stamp = seconds(msg.stamp)
        if stamp <= self.sim.time + 1e-9:  # acks of a previous episode are from its future: ignore them
            self._last_ack = max(self._last_ack, stamp)
        if self._waiting_since is not None:
            self._advance_when_ready()

    def _advance_when_ready(self) -> None:
        recorder_keeps_up = not self._wants_ack or self.sim.time - self._last_ack < ACK_WINDOW * self.sim.period
        if self._answered and recorder_keeps_up:
            self._advance()

    def _on_timer(self) -> None:
        if not self.active:
            return
        if not self.lockstep:
            self._advance()
        elif self._waiting_since is not None:
            waited = time.monotonic() - self._waiting_since
            if not self._answered and waited > self.lockstep_timeout:
                self.get_logger().warning(
                    f"no answer to the frame at t={self.sim.time:.2f} s within lockstep_timeout "
                    f"({self.lockstep_timeout} s); going on with the last command, so this "
                    "run is not repeatable",
                    throttle_duration_sec=5.0,
                )
                self._advance()
            elif self._answered and waited > ACK_TIMEOUT_S:
                self.get_logger().warning(
                    f"no recorder ack for {ACK_TIMEOUT_S:.0f} s; going on without it", throttle_duration_sec=10.0
                )
                self._advance()

    def _advance(self) -> None:
        """Apply the latest command for one camera period; /cmd_vel_applied says which frame it answered."""
        if self._pending_reset is not None:
            self._start_pending_episode()
            return
        self._waiting_since = None
        applied = TwistStamped()
        applied.header.stamp = ros_convert.stamp(self.sim.time)
        applied.twist.angular.z, applied.twist.angular.y = self._cmd
        self.pubs["applied"].publish(applied)
        self.sim.step(*self._cmd)
        self._publish_frame()

    def _publish_episode(self) -> None:
        s, t = self.sim.scenario, self.sim.time
        self.pubs["info"].publish(ros_convert.episode_info_msg(s, self.episode_index, t, self.sim.robot))
        self.pubs["command"].publish(ros_convert.command_msg(s, t))
        if self.lockstep:  # the episode's command and profile are in the controller's hands before its frame 0
            for name in ("command", "info"):
                self.pubs[name].wait_for_all_acked(Duration(seconds=COMMAND_ACK_TIMEOUT_S))

    def _publish_frame(self) -> None:
        """Everything the controller needs goes out before the image, which it answers."""
        t = self.sim.time
        self.pubs["clock"].publish(Clock(clock=ros_convert.stamp(t)))
        positions, velocities = self.sim.joints()
        self.pubs["joints"].publish(ros_convert.joint_state_msg(positions, velocities, t))
        self.pubs["faces"].publish(ros_convert.faces_msg(self.sim.scenario, self.sim.ground_truth(), t))
        if self.lockstep:
            self._waiting_since, self._answered = time.monotonic(), False
        self.pubs["image"].publish(ros_convert.image_msg(self.sim.render(), t))


def main(args=None) -> int:
    return run_node(SimNode, args)
