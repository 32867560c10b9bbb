"""The deploy gate on the shipped default model: the short CI scenario set in every run, the standard
and photo sets behind the `gate` marker (CI's deploy-gate job, `make test PYTEST_ARGS="-m gate"`).

A FAIL verdict fails the test: a change to training, the VLA node or the simulator that makes the shipped
model fail its gate does not land, and the deploy-gate job is what blocks deployment."""

import json
from pathlib import Path

import pytest
from ros_probe import run

from ocelot_common.gate_binding import DEPLOY_GATE
from ocelot_common.model_files import model_files, sha256_of
from ocelot_common.processes import fresh_domain_id
from ocelot_eval.report import RESULTS_FILE

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "default" / "model.onnx"
CONFIG = Path(__file__).resolve().parents[1] / "config"


def gate(scenarios: Path, output: Path, timeout: float) -> tuple[int, dict]:
    result = run(
        ["ocelot", "eval", "--model", str(MODEL), "--scenarios", str(scenarios), "--output", str(output), "--quiet"],
        fresh_domain_id(),
        timeout=timeout,
    )
    assert result.returncode in (0, 1), f"the gate did not run to a verdict:\n{result.stdout}\n{result.stderr}"
    report = json.loads((output / RESULTS_FILE).read_text())
    assert report["pass"] == (result.returncode == 0)
    return result, report


def test_shipped_model_files_match_its_card():
    card = json.loads(model_files(MODEL)["card"].read_text())
    for kind, entry in card["files"].items():
        assert sha256_of(model_files(MODEL)[kind]) == entry["sha256"], f"{kind} differs from the card"
    assert sum(p.stat().st_size for p in MODEL.parent.iterdir()) < 32 * 2**20  # the repo stays lean


def test_shipped_model_passes_the_ci_gate(tmp_path):
    result, report = gate(CONFIG / "scenarios_ci.yaml", tmp_path, timeout=300)
    assert report["model_sha256"] == sha256_of(MODEL) and report["aggregate"]["episodes"] == 6
    files = model_files(MODEL)
    assert report["model_files"] == {kind: sha256_of(files[kind]) for kind in ("policy", "text", "tokenizer")}
    assert report["binding"]["gates_sha256"] == DEPLOY_GATE["gates_sha256"]  # the deploy gate's thresholds
    failed = {name: g["value"] for name, g in report["gates"].items() if not g["pass"]}
    assert report["pass"] and not failed, f"the shipped model fails the CI gate ({failed}):\n{result.stdout}"


@pytest.mark.gate
@pytest.mark.parametrize("scenario_set", ["scenarios_standard.yaml", "scenarios_photo.yaml"])
def test_shipped_model_passes_the_full_gate(tmp_path, scenario_set):
    result, report = gate(CONFIG / scenario_set, tmp_path, timeout=900)
    assert report["pass"], f"the shipped model fails the deploy gate:\n{result.stdout}"
    if scenario_set == "scenarios_standard.yaml":
        assert report["binding"] == DEPLOY_GATE  # what the robot accepts
