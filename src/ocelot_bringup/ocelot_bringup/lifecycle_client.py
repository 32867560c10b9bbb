"""Client side of the standard lifecycle_msgs services (the ones `ros2 lifecycle` uses).

Works in two settings: a plain script that spins the node itself while it waits
(the CLI), and a node whose executor spins in another thread (the manager).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from rclpy.node import Node

# Labels of the primary transitions a user can request (lifecycle_msgs/msg/Transition).
TRANSITION_LABELS = ("configure", "cleanup", "activate", "deactivate", "shutdown")


class LifecycleCallError(RuntimeError):
    """A lifecycle service did not answer in time; the message names node and service."""


@dataclass(frozen=True)
class TransitionInfo:
    label: str
    id: int
    start: str
    goal: str


def node_path(name: str) -> str:
    return "/" + name.strip("/")


def lifecycle_nodes(node: Node) -> list[str]:
    """Fully qualified names of the nodes that offer lifecycle services now."""
    found = []
    for service, types in node.get_service_names_and_types():
        if service.endswith("/get_state") and "lifecycle_msgs/srv/GetState" in types:
            found.append(service[: -len("/get_state")])
    return sorted(found)


class LifecycleClient:
    """Lifecycle services of one target node."""

    def __init__(self, node: Node, target: str, *, spin: bool, callback_group=None) -> None:
        self.node = node
        self.target = node_path(target)
        self._spin = spin
        kw = {"callback_group": callback_group}
        self._get_state = node.create_client(GetState, f"{self.target}/get_state", **kw)
        self._change_state = node.create_client(ChangeState, f"{self.target}/change_state", **kw)
        self._transitions = node.create_client(
            GetAvailableTransitions, f"{self.target}/get_available_transitions", **kw
        )

    def destroy(self) -> None:
        for client in (self._get_state, self._change_state, self._transitions):
            self.node.destroy_client(client)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for client in (self._get_state, self._change_state, self._transitions):
            if not client.wait_for_service(timeout_sec=max(0.0, deadline - time.monotonic())):
                return False
        return True

    def get_state(self, timeout: float = 2.0) -> tuple[int, str]:
        state = self._call(self._get_state, GetState.Request(), timeout).current_state
        return state.id, state.label

    def available_transitions(self, timeout: float = 2.0) -> list[TransitionInfo]:
        response = self._call(self._transitions, GetAvailableTransitions.Request(), timeout)
        return [
            TransitionInfo(t.transition.label, t.transition.id, t.start_state.label, t.goal_state.label)
            for t in response.available_transitions
        ]

    def change_state(self, label: str, timeout: float = 10.0) -> bool:
        """Request a transition by label; the node itself refuses one not valid from its state."""
        request = ChangeState.Request(transition=Transition(label=label))
        return bool(self._call(self._change_state, request, timeout).success)

    def _call(self, client, request, timeout: float):
        if not client.service_is_ready() and not client.wait_for_service(timeout_sec=timeout):
            raise LifecycleCallError(f"{client.srv_name} is not available (is node '{self.target}' running?)")
        future = client.call_async(request)
        if self._spin:
            import rclpy

            rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
        else:
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            done.wait(timeout)
        if not future.done():
            client.remove_pending_request(future)
            raise LifecycleCallError(f"{client.srv_name} did not answer within {timeout:.1f} s")
        return future.result()
