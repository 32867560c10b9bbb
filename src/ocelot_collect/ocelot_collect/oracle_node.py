"""Oracle lifecycle node: ground-truth target -> /cmd_vel with P plus velocity feed-forward.

Subscribes the simulator's ground-truth faces and joint states, publishes
geometry_msgs/Twist on /cmd_vel (angular.z = pan, angular.y = tilt, rad/s) and
the same command on /cmd_vel_stamped, stamped with the frame it answers.
The law itself lives in ocelot_collect.oracle_law.
"""
from __future__ import annotations

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState

from ocelot_collect.oracle_law import OracleGains, OracleLaw
from ocelot_common.lifecycle import ManagedNode, run_node
from ocelot_common.parameters import refuse_bad_values
from ocelot_common.stamps import seconds
from ocelot_msgs.msg import GroundTruthFaceArray


class OracleNode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("oracle", **kwargs)
        self.declare_parameter("gain", 0.7)
        self.declare_parameter("period_s", 0.1)
        self.declare_parameter("max_velocity", 1.0)
        self.declare_parameter("feed_forward", True)
        self.declare_parameter("faces_topic", "/ground_truth/faces")
        self.declare_parameter("cmd_topic", "/cmd_vel")
        self.declare_parameter("answer_topic", "/cmd_vel_stamped")
        refuse_bad_values(self, {}, together=lambda v: OracleGains(v["gain"], v["period_s"], v["max_velocity"],
                                                                   v["feed_forward"]))
        self._law = None
        self._joints = (0.0, 0.0)
        self._cmd_pub = None

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive; FAILURE (stays unconfigured) on invalid gains."""
        p = self.get_parameter
        try:
            gains = OracleGains(p("gain").value, p("period_s").value, p("max_velocity").value,
                                p("feed_forward").value)
        except ValueError as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._law = OracleLaw(gains)
        self._cmd_pub = self.own(self.create_lifecycle_publisher(Twist, p("cmd_topic").value, 10))
        # the same command, stamped with the frame it answers: a lockstep sim matches it exactly
        self._answer_pub = self.own(self.create_lifecycle_publisher(TwistStamped, p("answer_topic").value, 10))
        self.own(self.create_subscription(GroundTruthFaceArray, p("faces_topic").value, self._on_faces, 10))
        self.own(self.create_subscription(JointState, "/joint_states", self._on_joints, 10))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> active: commands are published from now on."""
        self._law.reset()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: a last zero command so the rig does not keep turning."""
        self._cmd_pub.publish(Twist())
        return super().on_deactivate(state)

    def release(self) -> None:
        super().release()
        self._cmd_pub = None

    def _on_joints(self, msg: JointState) -> None:
        positions = dict(zip(msg.name, msg.position))
        self._joints = (positions.get("pan", self._joints[0]), positions.get("tilt", self._joints[1]))

    def _on_faces(self, msg: GroundTruthFaceArray) -> None:
        if self._cmd_pub is None or not self._cmd_pub.is_activated:
            return
        twist = Twist()
        if 0 <= msg.target_index < len(msg.faces) and msg.faces[msg.target_index].visible:
            face = msg.faces[msg.target_index]
            t = seconds(msg.header.stamp)
            twist.angular.z, twist.angular.y = self._law.command(
                t, face.pixel_u, face.pixel_v, *self._joints, rate=(face.azimuth_rate, face.elevation_rate))
        else:
            self._law.reset()
        self._cmd_pub.publish(twist)
        answer = TwistStamped(twist=twist)
        answer.header.stamp = msg.header.stamp
        self._answer_pub.publish(answer)


def main(args=None) -> int:
    return run_node(OracleNode, args)
