"""Lifecycle manager node, in the spirit of nav2's.

Brings the graph's nodes up in order (configure, activate) and takes them down
in reverse (deactivate, cleanup, shutdown). A bring-up that fails takes the
nodes it reached back to unconfigured, in reverse, so no half-started graph
runs. It watches each node: a node whose get_state service stops answering
while its heartbeat (``~/heartbeat``, sent by every ``ManagedNode`` from a
thread of its own) goes on is busy in a long callback; one whose heartbeat
stops too is reported dead, on ``~/health`` (ocelot_msgs/GraphHealth) and in the
log, within heartbeat_period + heartbeat_timeout seconds (0.5 + 1.5 s by default).
A node that never sent a heartbeat (not an Ocelot node) is judged by get_state alone.

Services: ``~/manage_nodes`` (ocelot_msgs/ManageLifecycleNodes: startup, pause,
resume, reset, shutdown), ``~/is_active`` (std_srvs/Trigger: success when every
node is alive and active), and ``~/startup``, ``~/shutdown`` (std_srvs/Trigger).

Ctrl-C or SIGTERM takes the graph down in that same order before the manager
exits: under `ros2 launch`, where every node gets the signal at once, the nodes
wait for it (ocelot_common.lifecycle), so launch's shutdown is as orderly as
`ocelot launch`'s.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from ocelot_bringup.lifecycle_client import LifecycleCallError, LifecycleClient, node_path
from ocelot_bringup.lifecycle_plan import PlanError, bringup_transitions, order_for, transitions_to
from ocelot_common.lifecycle import HEARTBEAT_TOPIC, ignore_stop_signals, stop_requests
from ocelot_common.parameters import positive, refuse_bad_values
from ocelot_common.ros_env import apply_defaults
from ocelot_msgs.msg import GraphHealth, NodeHealth
from ocelot_msgs.srv import ManageLifecycleNodes

# ManageLifecycleNodes command -> (name, the state every node is taken to)
COMMANDS = {
    ManageLifecycleNodes.Request.STARTUP: ("startup", "active"),
    ManageLifecycleNodes.Request.PAUSE: ("pause", "inactive"),
    ManageLifecycleNodes.Request.RESUME: ("resume", "active"),
    ManageLifecycleNodes.Request.RESET: ("reset", "unconfigured"),
    ManageLifecycleNodes.Request.SHUTDOWN: ("shutdown", "finalized"),
}


class LifecycleManager(Node):
    def __init__(self) -> None:
        super().__init__("lifecycle_manager")
        self.declare_parameter("node_names", [""])
        self.declare_parameter("graph", "")
        self.declare_parameter("autostart", True)
        self.declare_parameter("heartbeat_period", 0.5)
        self.declare_parameter("heartbeat_timeout", 1.5)
        self.declare_parameter("bringup_timeout", 60.0)
        self.declare_parameter("transition_timeout", 60.0)
        refuse_bad_values(
            self,
            {
                name: positive
                for name in ("heartbeat_period", "heartbeat_timeout", "bringup_timeout", "transition_timeout")
            },
        )
        param = self.get_parameter
        self.node_names = [n for n in param("node_names").value if n]
        self.graph = param("graph").value
        self.heartbeat_period = float(param("heartbeat_period").value)
        self.heartbeat_timeout = float(param("heartbeat_timeout").value)
        self.bringup_timeout = float(param("bringup_timeout").value)
        self.transition_timeout = float(param("transition_timeout").value)

        group = ReentrantCallbackGroup()
        self._targets = {n: LifecycleClient(self, n, spin=False, callback_group=group) for n in self.node_names}
        self._states = {n: "unknown" for n in self.node_names}
        self._alive = {n: True for n in self.node_names}
        self._busy = {n: False for n in self.node_names}
        self._last_seen = {n: time.monotonic() for n in self.node_names}
        self._last_beat: dict[str, float | None] = {n: None for n in self.node_names}
        for name in self.node_names:
            self.create_subscription(
                Header, f"{node_path(name)}/{HEARTBEAT_TOPIC}", lambda _, n=name: self._on_beat(n), 10
            )
        self._lock = threading.Lock()  # one lifecycle operation at a time, heartbeats included
        self._stop = threading.Event()
        self._health_pub = self.create_publisher(GraphHealth, "~/health", 10)
        self.create_service(Trigger, "~/startup", self._on_startup, callback_group=group)
        self.create_service(Trigger, "~/shutdown", self._on_shutdown, callback_group=group)
        self.create_service(ManageLifecycleNodes, "~/manage_nodes", self._on_manage, callback_group=group)
        self.create_service(Trigger, "~/is_active", self._on_is_active, callback_group=group)
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True)
        self._heartbeat.start()
        if param("autostart").value:
            threading.Thread(target=self.startup, daemon=True).start()

    # -- bring-up and shutdown -------------------------------------------------
    def startup(self) -> tuple[bool, str]:
        with self._lock:
            reached = []
            for name in self.node_names:
                reached.append(name)
                ok, message = self._bring_up(name)
                if not ok:
                    message += self._roll_back(reached)
                    self.get_logger().error(f"bring-up of graph '{self.graph}' stopped: {message}")
                    return False, message
            message = f"graph '{self.graph}' active: {', '.join(self.node_names)}"
            self.get_logger().info(message)
            return True, message

    def _bring_up(self, name: str) -> tuple[bool, str]:
        client = self._targets[name]
        if not client.wait_ready(self.bringup_timeout):
            return False, f"node '{name}' offered no lifecycle services within {self.bringup_timeout:.0f} s"
        try:
            # bring-up waits as long for a state as for a transition: a node still busy with the work of its
            # last one (a sim rendering its first frame on a loaded machine) is slow, not dead
            _, state = client.get_state(self.transition_timeout)
            for transition in bringup_transitions(state):
                if not client.change_state(transition, self.transition_timeout):
                    return False, f"node '{name}' failed to {transition} (see its log)"
                self.get_logger().info(f"{name}: {transition} done")
            self._record(name, client.get_state(self.transition_timeout)[1])
        except (LifecycleCallError, PlanError) as exc:
            return False, f"node '{name}': {exc}"
        return True, ""

    def _roll_back(self, reached: list[str]) -> str:
        """After a failed bring-up: the nodes it reached back to unconfigured, in reverse (the lock is held)."""
        problems = self._take_all("unconfigured", reached)
        if problems:
            return "; rolling back left problems: " + "; ".join(problems)
        return f"; {', '.join(reversed(reached))} taken back to unconfigured"

    def _take_all(self, goal: str, names: list[str] | None = None) -> list[str]:
        """Every node (or `names`) to `goal`, in the order that goal needs; what went wrong (the lock is held)."""
        problems = []
        for name in order_for(goal, self.node_names if names is None else names):
            if not self._alive[name] or self._states[name] == "finalized":
                continue
            client = self._targets[name]
            try:
                # going down, a node gets the heartbeat's time to answer: a dead one must not hold up the rest
                wait = self.transition_timeout if goal == "active" else self.heartbeat_timeout
                for transition in transitions_to(goal, client.get_state(wait)[1]):
                    if not client.change_state(transition, self.transition_timeout):
                        problems.append(f"{name} refused {transition}")
                        break
                    self.get_logger().info(f"{name}: {transition} done")
                else:
                    self._record(name, goal)
            except (LifecycleCallError, PlanError) as exc:
                problems.append(f"{name}: {exc}")
            if problems and goal == "active":
                break  # up in order: a node whose predecessor is not up is not started
        return problems

    def shutdown(self) -> tuple[bool, str]:
        return self.manage("shutdown", "finalized")

    def manage(self, command: str, goal: str) -> tuple[bool, str]:
        if command == "startup":
            return self.startup()
        with self._lock:
            problems = self._take_all(goal)
        if problems:
            message = f"{command} finished with problems: " + "; ".join(problems)
            self.get_logger().error(message)
            return False, message
        message = f"graph '{self.graph}' " + ("shut down" if command == "shutdown" else f"{goal} ({command})")
        self.get_logger().info(message)
        return True, message

    def is_active(self) -> tuple[bool, str]:
        states = ", ".join(f"{n}: {self._health_state(n)}" for n in self.node_names)
        return all(self._alive[n] and self._states[n] == "active" for n in self.node_names), states

    def _on_startup(self, request, response):
        response.success, response.message = self.startup()
        return response

    def _on_shutdown(self, request, response):
        response.success, response.message = self.shutdown()
        return response

    def _on_manage(self, request, response):
        if request.command not in COMMANDS:
            response.success = False
            response.message = (
                f"unknown command {request.command}; use STARTUP=0, PAUSE=1, RESUME=2, RESET=3 or SHUTDOWN=4"
            )
            return response
        response.success, response.message = self.manage(*COMMANDS[request.command])
        return response

    def _on_is_active(self, request, response):
        response.success, response.message = self.is_active()
        return response

    # -- health ----------------------------------------------------------------
    def _on_beat(self, name: str) -> None:
        self._last_beat[name] = time.monotonic()

    def _record(self, name: str, state: str) -> None:
        self._states[name] = state
        self._last_seen[name] = time.monotonic()
        if not self._alive[name]:
            self.get_logger().info(f"node '{name}' answers again ({state})")
        elif self._busy[name]:
            self.get_logger().info(f"node '{name}' answers again ({state}) after a busy spell")
        self._alive[name], self._busy[name] = True, False

    def _beating(self, name: str) -> bool:
        beat = self._last_beat[name]
        return beat is not None and time.monotonic() - beat < self.heartbeat_timeout

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_period):
            if not self._lock.acquire(timeout=self.heartbeat_period):
                continue  # a transition is running; its calls tell us enough
            try:
                for name, client in self._targets.items():
                    if self._states[name] == "finalized":
                        continue
                    try:
                        self._record(name, client.get_state(self.heartbeat_timeout)[1])
                    except LifecycleCallError:
                        self._no_answer(name)
            finally:
                self._lock.release()
            self._publish_health()

    def _no_answer(self, name: str) -> None:
        silent = time.monotonic() - self._last_seen[name]
        if self._beating(name):  # its process is alive: a long callback holds its executor
            if not self._busy[name]:
                self._busy[name] = True
                self.get_logger().warning(
                    f"node '{name}' is busy: no lifecycle answer for {silent:.1f} s, but its heartbeat goes on"
                )
            return
        if self._alive[name]:
            self._alive[name], self._busy[name] = False, False
            self.get_logger().error(f"node '{name}' is not responding (last seen {silent:.1f} s ago): it died or hangs")

    def _health_state(self, name: str) -> str:
        return self._states[name] if self._alive[name] else "unreachable"

    def _publish_health(self) -> None:
        msg = GraphHealth(graph=self.graph)
        msg.header.stamp = self.get_clock().now().to_msg()
        now = time.monotonic()
        for name in self.node_names:
            msg.nodes.append(
                NodeHealth(
                    name=name,
                    state=self._health_state(name),
                    alive=self._alive[name],
                    busy=self._busy[name],
                    seconds_since_seen=now - self._last_seen[name],
                )
            )
        msg.all_active = all(h.alive and h.state == "active" for h in msg.nodes)
        if self.context.ok():  # Ctrl-C may have shut the context down under this thread
            try:
                self._health_pub.publish(msg)
            except RCLError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._heartbeat.join(timeout=5)


SHUTDOWN_WAIT_S = 4.0  # the graph's ordered shutdown on a signal; `ros2 launch` escalates to SIGTERM after 5 s


def main(args=None) -> int:
    apply_defaults()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    requested = stop_requests()
    manager = LifecycleManager()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(manager)
    try:
        while rclpy.ok() and not requested.is_set():
            executor.spin_once(timeout_sec=0.1)
        if requested.is_set():  # the nodes are waiting for this: down in reverse order, then exit
            down = threading.Thread(target=manager.shutdown, daemon=True)
            down.start()
            deadline = time.monotonic() + SHUTDOWN_WAIT_S
            while down.is_alive() and rclpy.ok() and time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.05)
    except ExternalShutdownException:
        pass
    finally:
        ignore_stop_signals()
        manager.stop()
        manager.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
