"""Base class and process runner for Ocelot's lifecycle nodes.

Every node is a ``ManagedNode``: resources are made in ``on_configure`` and
released in ``on_cleanup`` (as ros2/demos' lifecycle_py does), and reaching
``finalized`` ends the node's process, so `shutdown` through the lifecycle
services is a clean exit that a launcher can wait for.
"""
from __future__ import annotations

import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.client import Client
from rclpy.lifecycle import LifecycleNode, LifecyclePublisher, LifecycleState, TransitionCallbackReturn
from rclpy.service import Service
from rclpy.timer import Timer

from ocelot_common.ros_env import apply_defaults


class ManagedNode(LifecycleNode):
    """A lifecycle node whose process ends once it is finalized."""

    def __init__(self, node_name: str, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.finalized = False
        self._owned = []

    def own(self, entity):
        """Register a publisher, subscription, timer, service or client made in on_configure."""
        self._owned.append(entity)
        return entity

    def release(self) -> None:
        """Destroy what on_configure made (newest first); called by on_cleanup and on_shutdown.

        Nodes with more to release override this and call it too."""
        for entity in reversed(self._owned):
            if isinstance(entity, LifecyclePublisher):
                self.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Timer):
                entity.cancel()
                self.destroy_timer(entity)
            elif isinstance(entity, Service):
                self.destroy_service(entity)
            elif isinstance(entity, Client):
                self.destroy_client(entity)
            else:
                self.destroy_subscription(entity)
        self._owned = []

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> unconfigured. SUCCESS always: releasing cannot fail."""
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """any primary state -> finalized; the runner then ends the process."""
        self.release()
        self.finalized = True
        return TransitionCallbackReturn.SUCCESS


def run_node(factory: Callable[[], ManagedNode], args: list[str] | None = None) -> int:
    """Spin one node until it is finalized, the context shuts down, or Ctrl-C."""
    apply_defaults()
    rclpy.init(args=sys.argv if args is None else args)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not node.finalized:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
