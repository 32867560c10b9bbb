"""The deploy gate's binding, as the robot knows it, is the one the evaluator's own files give."""

from dataclasses import replace
from pathlib import Path

from ocelot_common.gate_binding import DEPLOY_GATE, DEPLOY_ROBOT, binding
from ocelot_eval.gates import gate_section
from ocelot_sim.robot_profile import load_profile
from ocelot_sim.scenario import load_scenario_file

CONFIG = Path(__file__).resolve().parents[1] / "config"


def _deploy_inputs():
    return (
        gate_section(CONFIG / "gates.yaml"),
        load_scenario_file(CONFIG / "scenarios_standard.yaml"),
        load_profile(DEPLOY_ROBOT).values(),
    )


def test_the_deploy_gate_binding_is_that_of_gates_yaml_on_the_standard_set_under_the_deploy_robot():
    assert binding(*_deploy_inputs()) == DEPLOY_GATE, (
        "gates.yaml, scenarios_standard.yaml or the deploy robot profile changed: update DEPLOY_GATE in "
        "ocelot_common.gate_binding"
    )


def test_a_changed_threshold_scenario_or_robot_changes_the_binding(tmp_path):
    gates, scenarios, robot = _deploy_inputs()
    looser = {**gates, "mean_error_px": {"max": 30.0}}
    assert binding(looser, scenarios, robot)["gates_sha256"] != DEPLOY_GATE["gates_sha256"]
    assert binding(gates, scenarios[:-1], robot)["scenarios_sha256"] != DEPLOY_GATE["scenarios_sha256"]
    other = "ideal" if DEPLOY_ROBOT != "ideal" else "pi4"
    assert binding(gates, scenarios, load_profile(other).values())["robot_sha256"] != DEPLOY_GATE["robot_sha256"]
    # layout and comments do not count: the same thresholds written otherwise bind the same
    (tmp_path / "gates.yaml").write_text(
        "closed_loop:\n"
        + "".join(f"  {metric}: {rule}  # reworded\n" for metric, rule in reversed(list(gates.items())))
    )
    assert binding(gate_section(tmp_path / "gates.yaml"), scenarios, robot) == DEPLOY_GATE
    # nor does the profile's name: the same values are the same loop
    renamed = replace(load_profile(DEPLOY_ROBOT), name="my_rig").values()
    assert binding(gates, scenarios, renamed) == DEPLOY_GATE
