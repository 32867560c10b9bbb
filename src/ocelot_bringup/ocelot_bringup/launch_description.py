"""Translate a graph definition into a launch_ros LaunchDescription.

Only machines with a full ROS 2 install (the robot, a ROS docker image) have
`launch` and `launch_ros`; there `ros2 launch ocelot_bringup sim_launch.py`
starts the same nodes with the same parameters as `ocelot launch sim`.
The translation itself (`launch_plan`) is plain data, so it is tested anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocelot_bringup.graphs import MANAGER_NAME, VAR, Graph, load_graphs, select_graph


@dataclass(frozen=True)
class LaunchVar:
    """A parameter value that is exactly one launch argument."""
    name: str


def _plan_value(value: Any) -> Any:
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole:
            return LaunchVar(whole.group(1))
        parts, last = [], 0
        for m in VAR.finditer(value):
            parts += [value[last:m.start()], LaunchVar(m.group(1))]
            last = m.end()
        if parts:
            return [p for p in [*parts, value[last:]] if p != ""]
    return value


def launch_plan(graph: Graph) -> dict:
    """Arguments, nodes (parameters with LaunchVar placeholders) and the manager, as data."""
    return {
        "arguments": {a.name: (str(a.default), a.description) for a in graph.arguments.values()},
        "nodes": [{"name": n.name, "package": n.package, "executable": n.executable,
                   "parameters": {k: _plan_value(v) for k, v in n.parameters.items()},
                   "remappings": {k: _plan_value(v) for k, v in n.remappings.items()}}
                  for n in graph.nodes],
        "manager": {"name": MANAGER_NAME, "package": "ocelot_bringup", "executable": "lifecycle_manager",
                    "parameters": {"node_names": graph.node_names, "graph": graph.name, "autostart": True}},
    }


def generate_graph_launch_description(graph_name: str):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import LifecycleNode, Node

    def substitution(value):
        if isinstance(value, LaunchVar):
            return LaunchConfiguration(value.name)
        if isinstance(value, list):
            return [substitution(v) for v in value]
        return value

    plan = launch_plan(select_graph(load_graphs(), graph_name))
    actions = [DeclareLaunchArgument(name, default_value=default, description=text)
               for name, (default, text) in plan["arguments"].items()]
    for node in plan["nodes"]:
        actions.append(LifecycleNode(
            package=node["package"], executable=node["executable"], name=node["name"], namespace="",
            parameters=[{k: substitution(v) for k, v in node["parameters"].items()}],
            remappings=[(k, substitution(v)) for k, v in node["remappings"].items()],
            output="screen"))
    manager = plan["manager"]
    actions.append(Node(package=manager["package"], executable=manager["executable"], name=manager["name"],
                        parameters=[manager["parameters"]], output="screen"))
    return LaunchDescription(actions)
