"""Which transitions take a lifecycle node from its state to another primary state.

ROS-free: the lifecycle manager walks these plans, tests check them directly.
"""

from __future__ import annotations

TO_ACTIVE = {
    "unconfigured": ["configure", "activate"],
    "inactive": ["activate"],
    "active": [],
}
TO_INACTIVE = {
    "active": ["deactivate"],
    "inactive": [],
    "unconfigured": ["configure"],
}
TO_UNCONFIGURED = {
    "active": ["deactivate", "cleanup"],
    "inactive": ["cleanup"],
    "unconfigured": [],
}
TO_FINALIZED = {
    "active": ["deactivate", "cleanup", "shutdown"],
    "inactive": ["cleanup", "shutdown"],
    "unconfigured": ["shutdown"],
    "finalized": [],
}
PLANS = {"active": TO_ACTIVE, "inactive": TO_INACTIVE, "unconfigured": TO_UNCONFIGURED, "finalized": TO_FINALIZED}


class PlanError(ValueError):
    pass


GOAL_WORDS = {
    "active": "brought up",
    "inactive": "taken to inactive",
    "unconfigured": "taken back to unconfigured",
    "finalized": "shut down cleanly",
}


def transitions_to(goal: str, state: str) -> list[str]:
    """Transitions from primary state `state` to primary state `goal`; finalized nodes cannot come back."""
    plan = PLANS[goal]
    if state not in plan:
        raise PlanError(f"a node in state '{state}' cannot be {GOAL_WORDS[goal]}; it must be one of {', '.join(plan)}")
    return list(plan[state])


def bringup_transitions(state: str) -> list[str]:
    return transitions_to("active", state)


def shutdown_transitions(state: str) -> list[str]:
    return transitions_to("finalized", state)


def order_for(goal: str, node_names: list[str]) -> list[str]:
    """Up (to active) in bring-up order, down (anything else) in reverse."""
    return list(node_names) if goal == "active" else shutdown_order(node_names)


def shutdown_order(node_names: list[str]) -> list[str]:
    """Nodes come down in the reverse of their bring-up order."""
    return list(reversed(node_names))
