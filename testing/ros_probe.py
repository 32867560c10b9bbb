"""Test-side ROS helpers (never installed): a probe node of the test's own and a command run in a domain.

A probe is an rclpy node in a context of its own on the test's ROS domain, so a
test (or a benchmark) can watch topics and call services of the graph it
started without sharing a context with anything else.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence

from ocelot_common.processes import wait_for
from ocelot_common.ros_env import ros_environment


def run(cmd: Sequence[str], domain_id: int, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run a command to completion in the given domain; output captured as text."""
    return subprocess.run(
        list(cmd), env=ros_environment(domain_id=domain_id), capture_output=True, text=True, timeout=timeout
    )


class RosProbe:
    """An rclpy node of the test's own, on the test's domain, in a context of its own."""

    def __init__(self, domain_id: int, name: str = "probe") -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        os.environ.update({k: v for k, v in ros_environment().items() if k != "ROS_DOMAIN_ID"})
        self.context = rclpy.Context()
        rclpy.init(context=self.context, args=[], domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, predicate: Callable[[], object], timeout: float, what: str):
        def step():
            self.executor.spin_once(timeout_sec=0.05)
            return predicate()

        return wait_for(step, timeout, what, interval=0.0)

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> RosProbe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
