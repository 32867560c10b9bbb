"""Lifecycle manager node, in the spirit of nav2's.

Brings the graph's nodes up in order (configure, activate), takes them down in
reverse (deactivate, cleanup, shutdown), and checks each node's heartbeat: a
node whose get_state service stops answering is reported dead on
``~/health`` (ocelot_msgs/GraphHealth) and in the log within
heartbeat_period + heartbeat_timeout seconds (0.5 + 1.5 s by default).

Services (std_srvs/Trigger): ``~/startup``, ``~/shutdown``.

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
from std_srvs.srv import Trigger

from ocelot_bringup.lifecycle_client import LifecycleCallError, LifecycleClient
from ocelot_bringup.lifecycle_plan import PlanError, bringup_transitions, shutdown_order, shutdown_transitions
from ocelot_common.lifecycle import ignore_stop_signals, stop_requests
from ocelot_common.parameters import positive, refuse_bad_values
from ocelot_common.ros_env import apply_defaults
from ocelot_msgs.msg import GraphHealth, NodeHealth


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
        self._last_seen = {n: time.monotonic() for n in self.node_names}
        self._lock = threading.Lock()  # one lifecycle operation at a time, heartbeats included
        self._stop = threading.Event()
        self._health_pub = self.create_publisher(GraphHealth, "~/health", 10)
        self.create_service(Trigger, "~/startup", self._on_startup, callback_group=group)
        self.create_service(Trigger, "~/shutdown", self._on_shutdown, callback_group=group)
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True)
        self._heartbeat.start()
        if param("autostart").value:
            threading.Thread(target=self.startup, daemon=True).start()

    # -- bring-up and shutdown -------------------------------------------------
    def startup(self) -> tuple[bool, str]:
        with self._lock:
            for name in self.node_names:
                ok, message = self._bring_up(name)
                if not ok:
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

    def shutdown(self) -> tuple[bool, str]:
        with self._lock:
            problems = []
            for name in shutdown_order(self.node_names):
                if not self._alive[name] or self._states[name] == "finalized":
                    continue
                client = self._targets[name]
                try:
                    for transition in shutdown_transitions(client.get_state(self.heartbeat_timeout)[1]):
                        if not client.change_state(transition, self.transition_timeout):
                            problems.append(f"{name} refused {transition}")
                            break
                        self.get_logger().info(f"{name}: {transition} done")
                    else:
                        self._record(name, "finalized")
                except (LifecycleCallError, PlanError) as exc:
                    problems.append(f"{name}: {exc}")
            if problems:
                message = "shutdown finished with problems: " + "; ".join(problems)
                self.get_logger().error(message)
                return False, message
            message = f"graph '{self.graph}' shut down"
            self.get_logger().info(message)
            return True, message

    def _on_startup(self, request, response):
        response.success, response.message = self.startup()
        return response

    def _on_shutdown(self, request, response):
        response.success, response.message = self.shutdown()
        return response

    # -- health ----------------------------------------------------------------
    def _record(self, name: str, state: str) -> None:
        self._states[name] = state
        self._last_seen[name] = time.monotonic()
        if not self._alive[name]:
            self.get_logger().info(f"node '{name}' answers again ({state})")
        self._alive[name] = True

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
                        if self._alive[name]:
                            self._alive[name] = False
                            self.get_logger().error(
                                f"node '{name}' is not responding (last seen "
                                f"{time.monotonic() - self._last_seen[name]:.1f} s ago): it died or hangs"
                            )
            finally:
                self._lock.release()
            self._publish_health()

    def _publish_health(self) -> None:
        msg = GraphHealth(graph=self.graph)
        msg.header.stamp = self.get_clock().now().to_msg()
        now = time.monotonic()
        for name in self.node_names:
            msg.nodes.append(
                NodeHealth(
                    name=name,
                    state=self._states[name] if self._alive[name] else "unreachable",
                    alive=self._alive[name],
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
