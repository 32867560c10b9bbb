"""Zero controller lifecycle node: answers every camera frame with zero velocity.

The baseline a gate must reject (a camera that never moves loses moving faces).
Publishes /cmd_vel and /cmd_vel_stamped (stamped with the frame it answers, so
a lockstep sim advances at once instead of waiting out its timeout).
- on_configure: publishers and the image subscription. Always SUCCESS.
- on_activate: frames are answered from now on.
"""

from __future__ import annotations

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image

from ocelot_common.lifecycle import ManagedNode, run_node

IMAGES = QoSProfile(depth=2, reliability=QoSReliabilityPolicy.RELIABLE)


class ZeroControllerNode(ManagedNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("zero_controller", **kwargs)
        self.declare_parameter("image_topic", "/camera/image_raw")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive."""
        self.pubs = {
            "cmd": self.own(self.create_lifecycle_publisher(Twist, "/cmd_vel", 10)),
            "answer": self.own(self.create_lifecycle_publisher(TwistStamped, "/cmd_vel_stamped", 10)),
        }
        self.own(self.create_subscription(Image, self.get_parameter("image_topic").value, self._on_image, IMAGES))
        return TransitionCallbackReturn.SUCCESS

    def _on_image(self, msg: Image) -> None:
        if not self.active:
            return
        self.pubs["cmd"].publish(Twist())
        answer = TwistStamped()
        answer.header.stamp = msg.header.stamp
        self.pubs["answer"].publish(answer)


def main(args=None) -> int:
    return run_node(ZeroControllerNode, args)
