"""Which transitions take a lifecycle node from its state to active or to finalized.

ROS-free: the lifecycle manager walks these plans, tests check them directly.
"""

from __future__ import annotations

TO_ACTIVE = {
    "unconfigured": ["configure", "activate"],
    "inactive": ["activate"],
    "active": [],
}
TO_FINALIZED = {
    "active": ["deactivate", "cleanup", "shutdown"],
    "inactive": ["cleanup", "shutdown"],
    "unconfigured": ["shutdown"],
    "finalized": [],
}


class PlanError(ValueError):
    pass


def bringup_transitions(state: str) -> list[str]:
    """Transitions from a primary state to active; finalized nodes cannot come back."""
    if state not in TO_ACTIVE:
        raise PlanError(f"a node in state '{state}' cannot be brought up; it must be one of {', '.join(TO_ACTIVE)}")
    return list(TO_ACTIVE[state])


def shutdown_transitions(state: str) -> list[str]:
    if state not in TO_FINALIZED:
        raise PlanError(
            f"a node in state '{state}' cannot be shut down cleanly; it must be one of {', '.join(TO_FINALIZED)}"
        )
    return list(TO_FINALIZED[state])


def shutdown_order(node_names: list[str]) -> list[str]:
    """Nodes come down in the reverse of their bring-up order."""
    return list(reversed(node_names))
