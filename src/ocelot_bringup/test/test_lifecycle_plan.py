import pytest

from ocelot_bringup.lifecycle_plan import (
    PlanError,
    bringup_transitions,
    order_for,
    shutdown_order,
    shutdown_transitions,
    transitions_to,
)


@pytest.mark.parametrize(
    "state, plan", [("unconfigured", ["configure", "activate"]), ("inactive", ["activate"]), ("active", [])]
)
def test_bringup(state, plan):
    assert bringup_transitions(state) == plan


@pytest.mark.parametrize(
    "state, plan",
    [
        ("active", ["deactivate", "cleanup", "shutdown"]),
        ("inactive", ["cleanup", "shutdown"]),
        ("unconfigured", ["shutdown"]),
        ("finalized", []),
    ],
)
def test_shutdown(state, plan):
    assert shutdown_transitions(state) == plan


def test_transition_states_have_no_plan():
    with pytest.raises(PlanError, match="'configuring' cannot be brought up"):
        bringup_transitions("configuring")
    with pytest.raises(PlanError, match="'finalized' cannot be brought up"):
        bringup_transitions("finalized")
    with pytest.raises(PlanError, match="'errorprocessing' cannot be shut down"):
        shutdown_transitions("errorprocessing")


def test_shutdown_is_reverse_bringup():
    assert shutdown_order(["sim", "vla", "evaluator"]) == ["evaluator", "vla", "sim"]


@pytest.mark.parametrize(
    "goal, state, plan",
    [
        ("inactive", "active", ["deactivate"]),
        ("inactive", "inactive", []),
        ("unconfigured", "active", ["deactivate", "cleanup"]),
        ("unconfigured", "inactive", ["cleanup"]),
        ("unconfigured", "unconfigured", []),
    ],
)
def test_pause_and_reset(goal, state, plan):
    assert transitions_to(goal, state) == plan


def test_a_finalized_node_cannot_be_reset_and_only_bring_up_goes_in_order():
    with pytest.raises(PlanError, match="'finalized' cannot be taken back to unconfigured"):
        transitions_to("unconfigured", "finalized")
    assert order_for("active", ["sim", "vla"]) == ["sim", "vla"]
    assert order_for("unconfigured", ["sim", "vla"]) == order_for("inactive", ["sim", "vla"]) == ["vla", "sim"]
