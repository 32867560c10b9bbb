"""Base class and process runner for Ocelot's lifecycle nodes.

Every node is a ``ManagedNode``: resources are made in ``on_configure`` and
released in ``on_cleanup`` (as ros2/demos' lifecycle_py does), and reaching
``finalized`` ends the node's process, so `shutdown` through the lifecycle
services is a clean exit that a launcher can wait for.

Ctrl-C and SIGTERM ask a node to stop; they never raise inside a callback. Under
`ros2 launch` every process of the graph gets the signal at once (a terminal's
Ctrl-C reaches the whole process group, and launch forwards one more), so a node
whose graph has a lifecycle manager waits for the manager to take the graph down
in order (deactivate, clean up, shut down, in reverse) before it goes down on its
own; a node without one goes down on its own at once, through deactivate and
cleanup, so a policy node still sends its last zero command.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable

import rclpy
from rclpy.client import Client
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecyclePublisher, LifecycleState, TransitionCallbackReturn
from rclpy.service import Service
from rclpy.signals import SignalHandlerOptions
from rclpy.timer import Timer
from std_msgs.msg import Header

from ocelot_common.ros_env import MANAGER_NODE, apply_defaults

# how long a node that was asked to stop waits for its manager's ordered shutdown; `ros2 launch` sends SIGTERM
# 5 s after its SIGINT and SIGKILL 5 s after that, so the graph is down in order well before either
MANAGER_GRACE_S = 4.0


# how long a finalized node keeps spinning before it destroys itself: the reply to the `shutdown` call that
# finalized it is sent as that callback returns, and a reliable reply whose server is destroyed before the caller
# acknowledged it is lost (the caller then waits out its timeout)
FINALIZED_LINGER_S = 0.5


HEARTBEAT_TOPIC = "heartbeat"  # ~/heartbeat: std_msgs/Header, frame_id = the node's name
HEARTBEAT_PERIOD_S = 0.25


class ManagedNode(LifecycleNode):
    """A lifecycle node whose process ends once it is finalized, and that beats while its process lives."""

    def __init__(self, node_name: str, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        # a beat from a thread of its own, not from the executor: a node busy in a long callback still beats,
        # so the lifecycle manager can tell it from a dead one (nav2's bond, sent from the node side)
        self._heartbeat = self.create_publisher(Header, f"~/{HEARTBEAT_TOPIC}", 1)
        self._stop_beating = threading.Event()
        self._beats = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beats.start()
        self.finalized = False
        self._owned: list = []
        # the lifecycle publishers on_configure makes, by role ({"cmd": ..., "status": ...}); emptied on release
        self.pubs: dict[str, LifecyclePublisher] = {}

    def _beat(self) -> None:
        beat = Header(frame_id=self.get_name())
        while not self._stop_beating.wait(HEARTBEAT_PERIOD_S):
            try:
                self._heartbeat.publish(beat)
            except Exception:  # the context is going down under this thread: nothing left to beat for
                return

    def destroy_node(self) -> None:
        self._stop_beating.set()
        self._beats.join(timeout=2.0)
        super().destroy_node()

    @property
    def active(self) -> bool:
        """Between on_activate and on_deactivate: the lifecycle publishers publish."""
        return any(pub.is_activated for pub in self.pubs.values())

    def param(self, name: str):
        """A declared parameter's value."""
        return self.get_parameter(name).value

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
        self.pubs = {}

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> unconfigured. SUCCESS always: releasing cannot fail."""
        self.release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """any primary state -> finalized; the runner then ends the process."""
        self.release()
        self.finalized = True
        return TransitionCallbackReturn.SUCCESS


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_requests() -> threading.Event:
    """An event set by SIGINT or SIGTERM (however many arrive): the caller decides how to stop."""
    requested = threading.Event()
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: requested.set())
    return requested


def ignore_stop_signals() -> None:
    """Once a process has done its stopping, a late Ctrl-C (the terminal's and launch's come separately) must
    not kill it while the interpreter exits: that would read as `process has died [exit code -2]`."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def shut_down_alone(node: ManagedNode) -> None:
    """The node's own way down from where it is: deactivate, clean up, shut down (finalized)."""
    for label, step in (("active", node.trigger_deactivate), ("inactive", node.trigger_cleanup)):
        if node._state_machine.current_state[1] == label:
            step()
    if not node.finalized:
        node.trigger_shutdown()


def run_node(factory: Callable[[], ManagedNode], args: list[str] | None = None) -> int:
    """Spin one node until it is finalized, the context shuts down, or it is asked to stop (see above)."""
    apply_defaults()
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    requested = stop_requests()
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        deadline = None
        while rclpy.ok() and not node.finalized:
            executor.spin_once(timeout_sec=0.1)
            if requested.is_set() and deadline is None:
                managed = MANAGER_NODE in node.get_node_names()
                deadline = time.monotonic() + (MANAGER_GRACE_S if managed else 0.0)
            if deadline is not None and time.monotonic() >= deadline and not node.finalized:
                shut_down_alone(node)
        linger_until = time.monotonic() + FINALIZED_LINGER_S
        while rclpy.ok() and time.monotonic() < linger_until:
            executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        pass
    finally:
        ignore_stop_signals()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
