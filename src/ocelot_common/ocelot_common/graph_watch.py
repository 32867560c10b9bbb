"""What a CLI learns from a graph it started, from the graph's own typed topics rather than its log lines.

`ocelot eval` and `ocelot collect` start graphs with `ocelot launch` on a domain of their own. A
`GraphWatch` is an rclpy node of the CLI's on that domain, in a context of its own, that keeps the last
message of the graph's progress topic (the evaluator's `~/progress`, a collector's `~/progress`) and of
the lifecycle manager's `~/health`, so the CLI knows that the work finished, failed (and why), or that a
node died, from messages.
"""

from __future__ import annotations

import os

from ocelot_common.ros_env import MANAGER_NODE, ros_environment

HEALTH_TOPIC = f"/{MANAGER_NODE}/health"


class GraphWatch:
    def __init__(self, domain_id: int, progress_type, progress_topic: str, latched: bool = True) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

        from ocelot_msgs.msg import GraphHealth

        os.environ.update({k: v for k, v in ros_environment().items() if k != "ROS_DOMAIN_ID"})
        self.context = rclpy.Context()
        rclpy.init(context=self.context, args=[], domain_id=domain_id)
        self.node = rclpy.create_node("ocelot_cli_watch", context=self.context, start_parameter_services=False)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        durability = QoSDurabilityPolicy.TRANSIENT_LOCAL if latched else QoSDurabilityPolicy.VOLATILE
        qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=durability)
        self.progress = None  # the last progress message
        self.health = None  # the last GraphHealth
        self.node.create_subscription(progress_type, progress_topic, self._on_progress, qos)
        self.node.create_subscription(GraphHealth, HEALTH_TOPIC, self._on_health, 10)

    def _on_progress(self, msg) -> None:
        self.progress = msg

    def _on_health(self, msg) -> None:
        self.health = msg

    def poll(self, timeout: float = 0.0, callbacks: int = 20) -> None:
        """Take in what has arrived (up to `callbacks` messages; waits at most `timeout` s for the first)."""
        for _ in range(callbacks):
            self.executor.spin_once(timeout_sec=timeout)
            timeout = 0.0

    @property
    def dead_nodes(self) -> list[str]:
        """Nodes the lifecycle manager last reported not alive (no lifecycle answer and no heartbeat)."""
        if self.health is None:
            return []
        return [n.name for n in self.health.nodes if not n.alive]

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> GraphWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
