"""Translate a graph definition into a launch_ros LaunchDescription.

Only machines with a full ROS 2 install (the robot, a ROS docker image) have
`launch` and `launch_ros`; there `ros2 launch ocelot_bringup sim_launch.py`
starts the same nodes with the same parameters as `ocelot launch sim`.
The translation itself (`launch_plan`) is plain data, so it is tested anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocelot_bringup.graphs import VAR, Graph, load_graphs, select_graph
from ocelot_common.ros_env import MANAGER_NODE


@dataclass(frozen=True)
class LaunchVar:
    """A parameter value that is exactly one launch argument; `text`: the argument's default is text, so its
    value stays a string (launch_ros would read '{}' or 'true' as YAML)."""

    name: str
    text: bool = False


def _plan_value(value: Any, graph: Graph) -> Any:
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            return LaunchVar(name, isinstance(graph.arguments[name].default, str))
        parts, last = [], 0
        for m in VAR.finditer(value):
            parts += [value[last : m.start()], LaunchVar(m.group(1), True)]
            last = m.end()
        if parts:
            return [p for p in [*parts, value[last:]] if p != ""]
    return value


def launch_plan(graph: Graph) -> dict:
    """Arguments, nodes (parameters with LaunchVar placeholders) and the manager, as data."""
    return {
        "arguments": {a.name: (str(a.default), a.description) for a in graph.arguments.values()},
        "nodes": [
            {
                "name": n.name,
                "package": n.package,
                "executable": n.executable,
                "parameters": {k: _plan_value(v, graph) for k, v in n.parameters.items()},
                "remappings": {k: _plan_value(v, graph) for k, v in n.remappings.items()},
            }
            for n in graph.nodes
        ],
        "manager": {
            "name": MANAGER_NODE,
            "package": "ocelot_bringup",
            "executable": "lifecycle_manager",
            "parameters": {"node_names": graph.node_names, "graph": graph.name, "autostart": True},
        },
    }


def generate_graph_launch_description(graph_name: str):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import LifecycleNode, Node
    from launch_ros.parameter_descriptions import ParameterValue

    def substitution(value, parameter: bool = False):
        if isinstance(value, LaunchVar):
            config = LaunchConfiguration(value.name)
            return ParameterValue(config, value_type=str) if parameter and value.text else config
        if isinstance(value, list):
            joined = [substitution(v) for v in value]
            return ParameterValue(joined, value_type=str) if parameter else joined
        return value

    plan = launch_plan(select_graph(load_graphs(), graph_name))
    actions = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in plan["arguments"].items()
    ]
    for node in plan["nodes"]:
        actions.append(
            LifecycleNode(
                package=node["package"],
                executable=node["executable"],
                name=node["name"],
                namespace="",
                parameters=[{k: substitution(v, parameter=True) for k, v in node["parameters"].items()}],
                remappings=[(k, substitution(v)) for k, v in node["remappings"].items()],
                output="screen",
            )
        )
    manager = plan["manager"]
    actions.append(
        Node(
            package=manager["package"],
            executable=manager["executable"],
            name=manager["name"],
            parameters=[manager["parameters"]],
            output="screen",
        )
    )
    return LaunchDescription(actions)
