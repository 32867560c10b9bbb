"""Graph definitions: which nodes a graph runs, their parameters, their lifecycle order.

Pure data handling, no ROS: the `ocelot launch` launcher and the launch_ros files
both resolve graphs through this module, so they start the same nodes with the
same parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ocelot_common.config_files import installed_share_file, read_yaml
from ocelot_common.ros_env import MANAGER_NODE

VAR = re.compile(r"\$\(var ([A-Za-z_][A-Za-z0-9_]*)\)")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class GraphError(ValueError):
    """A graph file, graph name or launch argument that cannot be used; the message says why."""


@dataclass(frozen=True)
class Argument:
    name: str
    default: Any
    description: str = ""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    package: str
    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    name: str
    description: str
    arguments: dict[str, Argument]
    nodes: tuple[NodeSpec, ...]

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]


def default_graphs_file() -> Path:
    """The installed graphs.yaml, or the source tree's when running from a checkout."""
    return (
        installed_share_file("ocelot_bringup", "config/graphs.yaml")
        or Path(__file__).resolve().parent.parent / "config" / "graphs.yaml"
    )


def load_graphs(path: Path | str | None = None) -> dict[str, Graph]:
    path = Path(path) if path is not None else default_graphs_file()
    raw = read_yaml(path, "graph file", GraphError)
    if not isinstance(raw, dict) or not raw:
        raise GraphError(f"graph file {path} must map graph names to definitions")
    return {name: _parse_graph(name, body, path) for name, body in raw.items()}


def _parse_graph(name: str, body: Any, path: Path) -> Graph:
    where = f"{path}: graph '{name}'"
    if not isinstance(body, dict):
        raise GraphError(f"{where} must be a mapping with 'nodes'")
    unknown = set(body) - {"description", "arguments", "nodes"}
    if unknown:
        raise GraphError(f"{where}: unknown key(s) {sorted(unknown)}; valid: arguments, description, nodes")
    arguments = {}
    for arg_name, spec in (body.get("arguments") or {}).items():
        if not NAME.match(str(arg_name)):
            raise GraphError(f"{where}: argument name '{arg_name}' must be an identifier")
        spec = spec if isinstance(spec, dict) else {"default": spec}
        arguments[arg_name] = Argument(arg_name, spec.get("default"), str(spec.get("description", "")))
    nodes = []
    for i, node in enumerate(body.get("nodes") or []):
        missing = [k for k in ("name", "package", "executable") if not (isinstance(node, dict) and node.get(k))]
        if missing:
            raise GraphError(f"{where}: node #{i} lacks {', '.join(missing)}")
        nodes.append(
            NodeSpec(
                str(node["name"]),
                str(node["package"]),
                str(node["executable"]),
                dict(node.get("parameters") or {}),
                dict(node.get("remappings") or {}),
            )
        )
    if not nodes:
        raise GraphError(f"{where} has no nodes")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names) or MANAGER_NODE in names:
        raise GraphError(f"{where}: node names must be unique and not '{MANAGER_NODE}': {names}")
    for node in nodes:
        for value in [*node.parameters.values(), *node.remappings.values()]:
            for used in VAR.findall(str(value)):
                if used not in arguments:
                    raise GraphError(
                        f"{where}: node '{node.name}' uses $(var {used}) but the graph "
                        f"declares only {sorted(arguments) or 'no arguments'}"
                    )
    return Graph(name, str(body.get("description", "")), arguments, tuple(nodes))


def select_graph(graphs: dict[str, Graph], name: str) -> Graph:
    if name not in graphs:
        raise GraphError(f"unknown graph '{name}'; valid graphs: {', '.join(sorted(graphs))}")
    return graphs[name]


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """Parse `name:=value` launch arguments (the ros2 launch syntax)."""
    overrides = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not NAME.match(name):
            raise GraphError(f"malformed argument '{item}': expected name:=value, e.g. seed:=3")
        overrides[name] = value
    return overrides


def argument_values(graph: Graph, overrides: dict[str, str]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(graph.arguments))
    if unknown:
        valid = ", ".join(sorted(graph.arguments)) or "none"
        raise GraphError(f"graph '{graph.name}' has no argument '{unknown[0]}'; valid arguments: {valid}")
    values = {name: arg.default for name, arg in graph.arguments.items()}
    values.update({name: _typed(text) for name, text in overrides.items()})
    return values


def _typed(text: str) -> Any:
    """Type a command-line value as ros2 launch does for parameters: YAML scalars."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float, str)) else text


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Replace $(var NAME); a value that is exactly one $(var NAME) keeps the argument's type."""
    if not isinstance(value, str):
        return value
    whole = VAR.fullmatch(value)
    if whole:
        return values[whole.group(1)]
    return VAR.sub(lambda m: str(values[m.group(1)]), value)


def resolve(graph: Graph, overrides: dict[str, str]) -> list[NodeSpec]:
    """The graph's nodes with every $(var NAME) replaced, in bring-up order."""
    values = argument_values(graph, overrides)
    return [
        NodeSpec(
            n.name,
            n.package,
            n.executable,
            {k: substitute(v, values) for k, v in n.parameters.items()},
            {k: str(substitute(v, values)) for k, v in n.remappings.items()},
        )
        for n in graph.nodes
    ]
