"""A lifecycle node that can be told to hold its executor (a long callback) for the manager's tests.

python busy_node.py        # node `busy`; publish std_msgs/Float64 seconds on /busy/hold
"""

import time

from std_msgs.msg import Float64

from ocelot_common.lifecycle import ManagedNode, run_node


class BusyNode(ManagedNode):
    def __init__(self) -> None:
        super().__init__("busy")
        self.create_subscription(Float64, "~/hold", self._hold, 10)

    def _hold(self, msg: Float64) -> None:
        self.get_logger().info(f"holding the executor for {msg.data:.1f} s")
        end = time.monotonic() + msg.data
        while time.monotonic() < end:  # busy in Python, as a long computation is: the GIL is shared out
            sum(range(10_000))
        self.get_logger().info("released the executor")


if __name__ == "__main__":
    raise SystemExit(run_node(BusyNode))
