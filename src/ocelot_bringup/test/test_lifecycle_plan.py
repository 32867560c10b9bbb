import pytest

from ocelot_bringup.lifecycle_plan import PlanError, bringup_transitions, shutdown_order, shutdown_transitions


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
