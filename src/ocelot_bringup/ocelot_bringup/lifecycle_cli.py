"""`ocelot lifecycle nodes|list|get|set`: the `ros2 lifecycle` verbs, on the same services.

Output follows `ros2 lifecycle`: `get` prints "STATE [ID]", `list` prints each
available transition with its start and goal states, `set` prints
"Transitioning successful" or "Transitioning failed". Either tool can drive
nodes started by the other.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ocelot_bringup.lifecycle_client import (
    TRANSITION_LABELS,
    LifecycleCallError,
    LifecycleClient,
    lifecycle_nodes,
    node_path,
)
from ocelot_common.ros_env import apply_defaults

DISCOVERY_WAIT_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="{nodes,list,get,set}")
    verbs.add_parser("nodes", help="list the nodes that have lifecycle services")
    for verb, text in (("list", "list the transitions available to NODE now"), ("get", "print NODE's current state")):
        verbs.add_parser(verb, help=text).add_argument("node", metavar="NODE")
    set_parser = verbs.add_parser("set", help="trigger TRANSITION on NODE")
    set_parser.add_argument("node", metavar="NODE")
    set_parser.add_argument("transition", metavar="TRANSITION")
    for sub in verbs.choices.values():
        sub.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for answers")


def run(args: argparse.Namespace) -> int:
    if args.verb == "set" and args.transition not in TRANSITION_LABELS:
        print(
            f"error: unknown transition '{args.transition}'; valid transitions: {', '.join(TRANSITION_LABELS)}",
            file=sys.stderr,
        )
        return 2
    apply_defaults()
    import rclpy

    rclpy.init(args=[])
    node = rclpy.create_node(f"ocelot_lifecycle_{os.getpid()}", start_parameter_services=False)
    try:
        if args.verb == "nodes":
            for name in _discover(node, None, args.timeout):
                print(name)
            return 0
        target = node_path(args.node)
        known = _discover(node, target, args.timeout)
        if target not in known:
            print(f"error: node '{target}' not found; lifecycle nodes: {', '.join(known) or 'none'}", file=sys.stderr)
            return 1
        client = LifecycleClient(node, target, spin=True)
        return _VERBS[args.verb](client, args)
    except LifecycleCallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _discover(node, wanted: str | None, timeout: float) -> list[str]:
    """Lifecycle nodes, waiting for discovery until `wanted` shows up (or a short while)."""
    deadline = time.monotonic() + (timeout if wanted else DISCOVERY_WAIT_S)
    while True:
        import rclpy

        rclpy.spin_once(node, timeout_sec=0.1)
        found = lifecycle_nodes(node)
        if (wanted in found) if wanted else found:
            if not wanted:  # give late participants a moment to appear too
                rclpy.spin_once(node, timeout_sec=0.3)
                found = lifecycle_nodes(node)
            return found
        if time.monotonic() > deadline:
            return found


def _get(client: LifecycleClient, args) -> int:
    state_id, label = client.get_state(args.timeout)
    print(f"{label} [{state_id}]")
    return 0


def _list(client: LifecycleClient, args) -> int:
    for t in client.available_transitions(args.timeout):
        print(f"- {t.label} [{t.id}]\n\tStart: {t.start}\n\tGoal: {t.goal}")
    return 0


def _set(client: LifecycleClient, args) -> int:
    _, before = client.get_state(args.timeout)
    if client.change_state(args.transition, args.timeout):
        print("Transitioning successful")
        return 0
    _, after = client.get_state(args.timeout)
    available = [t.label for t in client.available_transitions(args.timeout)]
    if args.transition not in available:
        why = (
            f"'{args.transition}' is not available from state '{before}'; "
            f"available: {', '.join(dict.fromkeys(available)) or 'none'}"
        )
    else:
        why = f"the node's {args.transition} callback failed (see its log); it is now '{after}'"
    print(f"Transitioning failed: {why}", file=sys.stderr)
    return 1


_VERBS = {"get": _get, "list": _list, "set": _set}
