"""What binds an eval report to the gate that produced it (ROS-free; the evaluator writes it, the robot checks it).

A PASS verdict means something only for the gates, scenarios and robot profile it was measured on. `ocelot
eval` records in each report the sha256 of its gate thresholds, of its scenario set and of its robot
profile's values (canonical JSON of their parsed contents, so a reworded comment or a renamed profile
file does not change them) and the sha256 of every file of the model. The policy node deploys a model only
on a PASS report whose binding is the deploy gate's (DEPLOY_GATE: the closed-loop section of
ocelot_eval/config/gates.yaml on scenarios_standard.yaml under the DEPLOY_ROBOT profile) or one it is
configured to accept, and only if every model file is the one that report measured.

DEPLOY_GATE is written out here because the robot does not carry the evaluator's files; a test recomputes
it from them, so changing the deploy gate's thresholds or scenarios is a deliberate edit of this file too.
"""

from __future__ import annotations

import hashlib
import json

DEPLOY_ROBOT = "pi4"  # the profile the deploy gate measures under: the rig the product ships on
DEPLOY_GATE = {
    "gates_sha256": "3b4b6556d88fd8c26df819b1b61881df23ea2982ab5f01247b06fd0c632a6fa1",
    "scenarios_sha256": "899d13138099f493f2951a105b5ca42dbda9700fba6d6e01484402bffd111bca",
    "robot_sha256": "37e4d0523f3a6cb1ba39f22ed19ef4d8a93dbdabdf6562b956293e20dea61a16",
}
BINDING_KEYS = ("gates_sha256", "scenarios_sha256", "robot_sha256")
MODEL_FILE_KINDS = ("policy", "text", "tokenizer")  # every file the node loads


class GateBindingError(ValueError):
    """A report that does not bind the model to an accepted gate; the message says what is missing."""


def canonical_sha256(value) -> str:
    """sha256 of a parsed YAML/JSON value, independent of key order, layout and comments."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def binding(gates: dict, scenarios: list, robot: dict) -> dict:
    """The binding of a run: its gate thresholds (one section of a gates file), its scenario entries and its
    robot profile's values (the name aside: the same values are the same loop)."""
    values = {key: value for key, value in robot.items() if key != "name"}
    return {
        "gates_sha256": canonical_sha256(gates),
        "scenarios_sha256": canonical_sha256(scenarios),
        "robot_sha256": canonical_sha256(values),
    }


def parse_accepted(text: str) -> list[dict]:
    """'GATES_SHA:SCENARIOS_SHA:ROBOT_SHA[,...]' (a node parameter) -> bindings; the deploy gate's is always
    accepted."""
    accepted = [dict(DEPLOY_GATE)]
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        parts = item.split(":")
        if len(parts) != len(BINDING_KEYS) or any(len(part) != 64 for part in parts):
            raise GateBindingError(
                f"accepted gate {item!r} must be GATES_SHA256:SCENARIOS_SHA256:ROBOT_SHA256 "
                "(the report's binding.gates_sha256, binding.scenarios_sha256 and "
                "binding.robot_sha256)"
            )
        accepted.append(dict(zip(BINDING_KEYS, (part.lower() for part in parts))))
    return accepted


def gated_files(report: dict, accepted: list[dict], where: str = "the report") -> dict[str, str]:
    """The sha256 of each model file that a PASS report bound to an accepted gate measured; raises
    GateBindingError naming what is wrong (verdict, binding, missing hashes)."""
    if not isinstance(report, dict) or not isinstance(report.get("model_files"), dict):
        raise GateBindingError(f"{where} is not an `ocelot eval` report of a model (no model_files)")
    if report.get("pass") is not True:
        gates = report["gates"] if isinstance(report.get("gates"), dict) else {}
        failed = [name for name, gate in gates.items() if isinstance(gate, dict) and gate.get("pass") is False]
        raise GateBindingError(
            f"{where}: the model failed its gate (verdict {report.get('verdict', '?')}"
            + (f"; failed: {', '.join(failed)}" if failed else "")
            + "); only a model whose eval report passes may be deployed"
        )
    bound = report.get("binding")
    key = tuple(bound.get(k) for k in BINDING_KEYS) if isinstance(bound, dict) else None
    if key not in {tuple(a[k] for k in BINDING_KEYS) for a in accepted}:
        raise GateBindingError(
            f"{where} passed a gate that is not the deploy gate (binding {bound}); run "
            "`make eval` (the deploy gate) for this model, or accept that gate explicitly "
            "with the node's accepted_gates parameter"
        )
    files = report["model_files"]
    missing = [kind for kind in MODEL_FILE_KINDS if not isinstance(files.get(kind), str) or len(files[kind]) != 64]
    if missing:
        raise GateBindingError(f"{where} has no sha256 for the model's {', '.join(missing)} file")
    return {kind: files[kind] for kind in MODEL_FILE_KINDS}


def gated_latency_s(report: dict, where: str = "the report") -> float:
    """The command latency (s) of the robot profile a report was measured under: what the loop may take on
    the robot before the gate's verdict no longer covers it."""
    robot = report.get("robot") if isinstance(report, dict) else None
    latency = robot.get("command_latency_s") if isinstance(robot, dict) else None
    if isinstance(latency, bool) or not isinstance(latency, (int, float)):
        raise GateBindingError(
            f"{where} records no robot profile (robot.command_latency_s); evaluate the model again with `ocelot eval`"
        )
    return float(latency)
