"""The deploy gate's binding, as the robot knows it, is the one the evaluator's own files give."""
from pathlib import Path

from ocelot_common.gate_binding import DEPLOY_GATE, binding
from ocelot_eval.gates import gate_section
from ocelot_sim.scenario import load_scenario_file

CONFIG = Path(__file__).resolve().parents[1] / "config"


def test_the_deploy_gate_binding_is_that_of_gates_yaml_on_the_standard_set():
    assert binding(gate_section(CONFIG / "gates.yaml"), load_scenario_file(CONFIG / "scenarios_standard.yaml")) \
        == DEPLOY_GATE, "gates.yaml or scenarios_standard.yaml changed: update DEPLOY_GATE in ocelot_common.gate_binding"


def test_a_changed_threshold_or_scenario_changes_the_binding(tmp_path):
    gates, scenarios = gate_section(CONFIG / "gates.yaml"), load_scenario_file(CONFIG / "scenarios_standard.yaml")
    looser = {**gates, "mean_error_px": {"max": 30.0}}
    assert binding(looser, scenarios)["gates_sha256"] != DEPLOY_GATE["gates_sha256"]
    assert binding(gates, scenarios[:-1])["scenarios_sha256"] != DEPLOY_GATE["scenarios_sha256"]
    # layout and comments do not count: the same thresholds written otherwise bind the same
    (tmp_path / "gates.yaml").write_text("closed_loop:\n" + "".join(
        f"  {metric}: {rule}  # reworded\n" for metric, rule in reversed(list(gates.items()))))
    assert binding(gate_section(tmp_path / "gates.yaml"), scenarios) == DEPLOY_GATE
