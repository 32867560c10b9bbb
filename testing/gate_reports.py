"""Eval reports written by hand, for the tests of what reads them (the deploy check): never shipped.

`ocelot eval` is the only writer of real reports; these carry just the fields deployment reads.
"""

from __future__ import annotations

import json

from ocelot_common.gate_binding import DEPLOY_GATE, MODEL_FILE_KINDS
from ocelot_common.model_files import model_files, sha256_of


def write_gate_report(
    path,
    model,
    passed: bool,
    policy_sha: str | None = None,
    binding: dict | None = None,
    drop: tuple[str, ...] = (),
    latency_s: float = 0.0,
):
    """A report for `model`: verdict, one gate, the binding (default: the deploy gate's), every file's
    sha256 (`policy_sha` replaces the graph's; `drop` leaves file kinds out) and the command latency of the
    robot profile it claims to have passed under."""
    files = model_files(model)
    hashes = {kind: sha256_of(files[kind]) for kind in MODEL_FILE_KINDS if kind not in drop}
    if policy_sha:
        hashes["policy"] = policy_sha
    report = {
        "pass": passed,
        "verdict": "PASS" if passed else "FAIL",
        "gates": {
            "mean_error_px": {
                "metric": "mean_error_px",
                "kind": "max",
                "threshold": 15.0,
                "value": 4.0 if passed else 38.6,
                "applies": True,
                "pass": passed,
            }
        },
        "binding": dict(DEPLOY_GATE if binding is None else binding),
        "model_files": hashes,
        "model_sha256": hashes.get("policy"),
        "text_model_sha256": hashes.get("text"),
        "robot": {"name": "ideal" if latency_s == 0 else "custom", "command_latency_s": latency_s},
    }
    path.write_text(json.dumps(report))
    return path
