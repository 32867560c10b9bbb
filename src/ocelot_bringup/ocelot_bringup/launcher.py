"""`ocelot launch GRAPH`: one process per node, brought up by the lifecycle manager.

The launcher starts every node of the graph (each in its own session, so a
terminal's Ctrl-C reaches only the launcher, and each told to die with the
launcher, so a launcher killed outright leaves no node running), then the
lifecycle manager. On
Ctrl-C or SIGTERM it asks the manager for an ordered shutdown (deactivate,
cleanup, shutdown in reverse order), waits for the nodes to exit, and
interrupts whatever is left. A node process that dies is reported at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ocelot_bringup.graphs import Graph, GraphError, NodeSpec
from ocelot_common.processes import die_with_parent
from ocelot_common.ros_env import MANAGER_NODE, ros_environment


@dataclass
class NodeProcess:
    spec: NodeSpec
    popen: subprocess.Popen
    reported: bool = False


def executable_path(package: str, executable: str) -> Path:
    """Where colcon installed a package's executable (what `ros2 run` looks up)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = Path(get_package_prefix(package))
    except PackageNotFoundError:
        raise GraphError(
            f"package '{package}' is not installed in this workspace; run `make setup` and source scripts/env.sh"
        ) from None
    path = prefix / "lib" / package / executable
    if not os.access(path, os.X_OK):
        available = (
            sorted(p.name for p in path.parent.glob("*") if os.access(p, os.X_OK)) if path.parent.is_dir() else []
        )
        raise GraphError(
            f"package '{package}' has no executable '{executable}'; it has: {', '.join(available) or 'none'}"
        )
    return path


def node_command(spec: NodeSpec, params_file: Path) -> list[str]:
    cmd = [
        str(executable_path(spec.package, spec.executable)),
        "--ros-args",
        "-r",
        f"__node:={spec.name}",
        "--params-file",
        str(params_file),
    ]
    for source, target in spec.remappings.items():
        cmd += ["-r", f"{source}:={target}"]
    return cmd


def write_params(directory: Path, name: str, parameters: dict) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({name: {"ros__parameters": parameters}}))
    return path


class Launcher:
    def __init__(
        self,
        graph: Graph,
        nodes: list[NodeSpec],
        *,
        autostart: bool = True,
        shutdown_timeout: float = 20.0,
        out=sys.stdout,
    ) -> None:
        self.graph = graph
        self.nodes = nodes
        self.autostart = autostart
        self.shutdown_timeout = shutdown_timeout
        self.out = out
        self.env = ros_environment()
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
        self.processes: list[NodeProcess] = []
        self.manager: NodeProcess | None = None
        self._stop = threading.Event()
        self._print_lock = threading.Lock()
        self.died: list[str] = []

    def say(self, line: str) -> None:
        self._write(f"[ocelot launch] {line}\n")

    def _write(self, text: str) -> None:
        """A closed terminal or pipe must not stop the launcher: it still has to take the graph down."""
        with self._print_lock:
            try:
                self.out.write(text)
                self.out.flush()
            except (OSError, ValueError):
                pass

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        with tempfile.TemporaryDirectory(prefix="ocelot-launch-") as tmp:
            commands = [
                (spec, node_command(spec, write_params(Path(tmp), spec.name, spec.parameters))) for spec in self.nodes
            ]
            manager_spec = NodeSpec(
                MANAGER_NODE,
                "ocelot_bringup",
                "lifecycle_manager",
                {"node_names": [s.name for s in self.nodes], "graph": self.graph.name, "autostart": self.autostart},
            )
            manager_cmd = node_command(manager_spec, write_params(Path(tmp), MANAGER_NODE, manager_spec.parameters))
            self.say(
                f"graph '{self.graph.name}' on ROS_DOMAIN_ID={self.env['ROS_DOMAIN_ID']}: "
                f"{', '.join(s.name for s in self.nodes)}"
            )
            for spec, cmd in commands:
                self.processes.append(self._spawn(spec, cmd))
            self.manager = self._spawn(manager_spec, manager_cmd)
            self._watch()
            return self._shutdown()

    def _spawn(self, spec: NodeSpec, cmd: list[str]) -> NodeProcess:
        popen = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
            preexec_fn=die_with_parent(),
        )
        threading.Thread(target=self._relay, args=(spec.name, popen.stdout), daemon=True).start()
        self.say(f"started {spec.name} pid={popen.pid}")
        return NodeProcess(spec, popen)

    def _relay(self, name: str, stream) -> None:
        for line in stream:  # drained even when it cannot be shown, so the node never blocks on a full pipe
            self._write(f"[{name}] {line}")

    def _watch(self) -> None:
        """Until Ctrl-C, or until every graph node has exited."""
        while not self._stop.wait(0.1):
            self._report_exits()
            if all(p.popen.poll() is not None for p in self.processes):
                self.say("every node has exited")
                return
            if self.manager.popen.poll() is not None and not self.manager.reported:
                self.manager.reported = True
                self.say(f"the lifecycle manager exited (code {self.manager.popen.returncode})")

    def _report_exits(self) -> None:
        for proc in self.processes:
            code = proc.popen.poll()
            if code is None or proc.reported:
                continue
            proc.reported = True
            if code == 0:
                self.say(f"node '{proc.spec.name}' exited")
            else:
                how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                self.say(f"node '{proc.spec.name}' died ({how})")
                self.died.append(proc.spec.name)

    def _shutdown(self) -> int:
        if any(p.popen.poll() is None for p in self.processes):
            self.say("shutting down: deactivate, cleanup, shutdown in reverse order")
            if self._request_ordered_shutdown():
                self._wait_all(self.processes, self.shutdown_timeout)
        self._report_exits()
        for proc in self.processes:
            if proc.popen.poll() is None:
                _stop_process(proc.popen)
                proc.reported = True
                self.say(
                    f"node '{proc.spec.name}' did not finish its shutdown; stopped it (code {proc.popen.returncode})"
                )
        _stop_process(self.manager.popen)
        self.say("all processes stopped")
        return 1 if self.died else 0

    def _request_ordered_shutdown(self) -> bool:
        """Ask the manager to take the graph down; False when it cannot."""
        import rclpy
        from rclpy.node import Node
        from std_srvs.srv import Trigger

        if self.manager.popen.poll() is not None:
            self.say("the lifecycle manager is gone; stopping nodes directly")
            return False
        done = False
        context = rclpy.Context()
        os.environ.update(self.env)
        rclpy.init(context=context, args=[])
        try:
            node = Node("ocelot_launch", context=context, start_parameter_services=False)
            client = node.create_client(Trigger, f"/{MANAGER_NODE}/shutdown")
            if client.wait_for_service(timeout_sec=5.0):
                future = client.call_async(Trigger.Request())
                executor = rclpy.executors.SingleThreadedExecutor(context=context)
                executor.add_node(node)
                executor.spin_until_future_complete(future, timeout_sec=self.shutdown_timeout)
                if future.done():
                    self.say(future.result().message)
                    done = True
            else:
                self.say("the lifecycle manager did not answer; stopping nodes directly")
            node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
        return done

    @staticmethod
    def _wait_all(processes: list[NodeProcess], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p.popen.poll() is None for p in processes):
            time.sleep(0.05)


def _stop_process(popen: subprocess.Popen) -> None:
    """SIGINT, then SIGTERM, then SIGKILL, to the process's whole session."""
    for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if popen.poll() is not None:
            return
        try:
            os.killpg(popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass
