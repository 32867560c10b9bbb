"""Oracle lifecycle node: ground-truth target -> /cmd_vel with P plus velocity feed-forward.

Subscribes the simulator's ground-truth faces and joint states, publishes
geometry_msgs/Twist on /cmd_vel (angular.z = pan, angular.y = tilt, rad/s) and
the same command on /cmd_vel_stamped, stamped with the frame it answers.
The law itself lives in ocelot_oracle.oracle_law. Each episode's robot profile
comes from /episode/info, with its scenario; under one whose commands act late or
slowly, the law predicts the loop from the joints' rates, the commands that
answered the frames before (/cmd_vel_applied: whoever steered - the oracle itself,
or a policy in DAgger collection) and the target's motion in the scenario.

Each frame is answered from that frame's own inputs: its ground truth waits until
the joint state of the same stamp has arrived, and the command applied to the
frame before (topics are delivered apart, and on a loaded machine the truth can
come first), so the same episode gets the same answers on any machine, busy or
not. A newer frame arriving first answers the waiting one with what is there.
"""

from __future__ import annotations

import json

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState

from ocelot_common.camera import CAMERA_PERIOD_S
from ocelot_common.lifecycle import ManagedNode, run_node
from ocelot_common.parameters import refuse_bad_values
from ocelot_common.stamps import nanoseconds, seconds
from ocelot_msgs.msg import EpisodeInfo, GroundTruthFaceArray
from ocelot_oracle.oracle_law import LoopState, OracleGains, OracleLaw
from ocelot_sim.motion import MotionSpec, motion_from_dict
from ocelot_sim.robot_profile import RobotProfile
from ocelot_sim.ros_convert import robot_from_msg

LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
APPLIED = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)  # as the sim publishes it
KEPT_COMMANDS = 8  # earlier answers kept for the prediction: enough for latencies of several periods
KEPT_JOINTS = 8  # the latest joint states (by arrival), until their frame's truth arrives


class OracleNode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("oracle", **kwargs)
        self.declare_parameter("gain", 0.7)
        self.declare_parameter("period_s", CAMERA_PERIOD_S)
        self.declare_parameter("max_velocity", 1.0)
        self.declare_parameter("feed_forward", True)
        self.declare_parameter("faces_topic", "/ground_truth/faces")
        self.declare_parameter("cmd_topic", "/cmd_vel")
        self.declare_parameter("answer_topic", "/cmd_vel_stamped")
        refuse_bad_values(
            self, {}, together=lambda v: OracleGains(v["gain"], v["period_s"], v["max_velocity"], v["feed_forward"])
        )
        self._law = None
        self._joints = (0.0, 0.0)
        self._joint_rates = (0.0, 0.0)
        self._commands: dict[float, tuple[float, float]] = {}  # frame time -> the command that answered it
        self._applied: dict[float, None] = {}  # frame times whose applied command the sim has reported (by arrival)
        self._joints_at: dict[int, tuple] = {}  # frame stamp (ns) -> (positions, rates)
        self._waiting: GroundTruthFaceArray | None = None  # a frame's truth, until its inputs are in
        self._last_t = None
        self._target_motion: MotionSpec | None = None  # the episode's target's path, from its scenario

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive; FAILURE (stays unconfigured) on invalid gains."""
        p = self.get_parameter
        try:
            gains = OracleGains(p("gain").value, p("period_s").value, p("max_velocity").value, p("feed_forward").value)
        except ValueError as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._law = OracleLaw(gains)
        self.pubs = {
            "cmd": self.own(self.create_lifecycle_publisher(Twist, p("cmd_topic").value, 10)),
            # the same command, stamped with the frame it answers: a lockstep sim matches it exactly
            "answer": self.own(self.create_lifecycle_publisher(TwistStamped, p("answer_topic").value, 10)),
        }
        # made before the faces subscription: when several are ready, these are served first
        self.own(self.create_subscription(EpisodeInfo, "/episode/info", self._on_episode, LATCHED))
        self.own(self.create_subscription(TwistStamped, "/cmd_vel_applied", self._on_applied, APPLIED))
        self.own(self.create_subscription(JointState, "/joint_states", self._on_joints, 10))
        self.own(self.create_subscription(GroundTruthFaceArray, p("faces_topic").value, self._on_faces, 10))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> active: commands are published from now on."""
        self._law.reset()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: a last zero command so the rig does not keep turning."""
        self.pubs["cmd"].publish(Twist())
        return super().on_deactivate(state)

    def _on_episode(self, msg: EpisodeInfo) -> None:
        """A new episode: its robot profile, and nothing in flight."""
        robot = robot_from_msg(msg.robot) if msg.robot.name else RobotProfile()
        if self._law is not None:
            self._law.robot = robot
            self._law.reset()
        self._commands, self._applied, self._last_t = {}, {}, None
        try:
            scenario = json.loads(msg.scenario_json)
            self._target_motion = motion_from_dict(scenario["faces"][scenario["target"]]["motion"])
        except (ValueError, KeyError, IndexError, TypeError):
            self._target_motion = None  # the rate alone, then
            self.get_logger().warning("episode info without a readable scenario: predicting from rates only")

    def _on_applied(self, msg: TwistStamped) -> None:
        """The command the sim applied for a frame (the oracle's own, or the policy's in DAgger)."""
        t = seconds(msg.header.stamp)
        self._remember(t, (msg.twist.angular.z, msg.twist.angular.y))
        self._applied[t] = None
        for old in list(self._applied)[:-KEPT_COMMANDS]:
            del self._applied[old]
        self._answer_when_ready()

    def _remember(self, t: float, command: tuple[float, float]) -> None:
        """Keep the latest answers by arrival, not by stamp: a late one of the episode before (a larger stamp)
        must not push this episode's out."""
        self._commands[t] = command
        for old in list(self._commands)[:-KEPT_COMMANDS]:
            del self._commands[old]

    def _on_joints(self, msg: JointState) -> None:
        positions, rates = dict(zip(msg.name, msg.position)), dict(zip(msg.name, msg.velocity))
        self._joints = (positions.get("pan", self._joints[0]), positions.get("tilt", self._joints[1]))
        self._joint_rates = (rates.get("pan", 0.0), rates.get("tilt", 0.0))
        self._joints_at[nanoseconds(msg.header.stamp)] = (self._joints, self._joint_rates)
        for old in list(self._joints_at)[:-KEPT_JOINTS]:  # by arrival: the sim's clock restarts each episode
            del self._joints_at[old]
        self._answer_when_ready()

    def _on_faces(self, msg: GroundTruthFaceArray) -> None:
        if not self.active:
            return
        if self._waiting is not None:  # a newer frame is here: the loop must not wait on the older one
            self._answer(self._waiting)
        self._waiting = msg
        self._answer_when_ready()

    def _answer_when_ready(self) -> None:
        """Answer the waiting frame once its joint state and the frame before's applied command are in."""
        msg = self._waiting
        if msg is None or not self.active:
            return
        t = seconds(msg.header.stamp)
        new_episode = self._last_t is None or t <= self._last_t
        if nanoseconds(msg.header.stamp) in self._joints_at and (new_episode or self._last_t in self._applied):
            self._answer(msg)

    def _answer(self, msg: GroundTruthFaceArray) -> None:
        self._waiting = None
        joints = self._joints_at.get(nanoseconds(msg.header.stamp))
        if joints is not None:
            self._joints, self._joint_rates = joints
        twist = Twist()
        t = seconds(msg.header.stamp)
        if self._last_t is not None and t <= self._last_t:
            self._commands, self._applied = {}, {}  # the sim's clock went back: a new episode, nothing in flight
        self._last_t = t
        if 0 <= msg.target_index < len(msg.faces) and msg.faces[msg.target_index].visible:
            face = msg.faces[msg.target_index]
            earlier = tuple(sorted((s, c) for s, c in self._commands.items() if s < t))
            twist.angular.z, twist.angular.y = self._law.command(
                t,
                face.pixel_u,
                face.pixel_v,
                *self._joints,
                rate=(face.azimuth_rate, face.elevation_rate),
                loop=LoopState(self._joint_rates, earlier, None if face.perturbed else self._target_motion),
            )
        else:
            self._law.reset()
        if t not in self._commands:  # ours, until the sim says what it applied
            self._remember(t, (twist.angular.z, twist.angular.y))
        self.pubs["cmd"].publish(twist)
        answer = TwistStamped(twist=twist)
        answer.header.stamp = msg.header.stamp
        self.pubs["answer"].publish(answer)


def main(args=None) -> int:
    return run_node(OracleNode, args)
