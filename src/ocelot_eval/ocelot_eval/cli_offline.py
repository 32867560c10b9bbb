"""`ocelot eval-offline --model PATH --dataset DIR`: the policy against the oracle's labels on the test split.

Each test episode's frames run through the exported policy (onnxruntime, the
VLA node's own loading code) with the episode's command; a model that takes the
previous command gets the one applied (the oracle's, or in DAgger episodes the
policy's that was recorded beside the label), one that takes its previous
target estimate gets its own on the frame before. Reports MSE on
(pan_vel, tilt_vel) overall and per label, checks the offline gates
(config/gates.yaml: overall_mse < 0.05, no label's MSE >= 0.2), writes
offline_results.json, and exits 0 on PASS, 1 on FAIL, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

RESULTS_FILE = "offline_results.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model.onnx written by `ocelot export`")
    parser.add_argument("--dataset", required=True, help="dataset directory (metadata.json, splits, episodes/)")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--output", help=f"directory for {RESULTS_FILE} (default: beside the model)")
    parser.add_argument("--gates", metavar="FILE", help="gate thresholds (default: ocelot_eval/config/gates.yaml)")


def evaluate(policy, dataset: Path, split: str) -> dict:
    """MSE per episode, per label and overall (frames pooled)."""
    from ocelot_common.episode_context import previous_actions
    from ocelot_dataset.episode_io import EpisodeError, episode_path, read_episode
    from ocelot_dataset.index import load_metadata, read_split

    table = load_metadata(dataset).get("episodes", {})
    rows, squared = [], {}
    for ep in read_split(dataset, split):
        path = episode_path(dataset, ep)
        try:
            episode = read_episode(path)
        except (EpisodeError, OSError) as exc:
            raise ValueError(f"{path}: {exc}; `ocelot check-dataset` lists the broken files") from None
        labels = np.stack([episode.pan_vel, episode.tilt_vel], 1).astype(np.float32)
        applied = labels if episode.applied is None else episode.applied.astype(np.float32)
        policy.set_command(episode.cmd)
        error = ((policy.act_on_frames(episode.frames, previous_actions(applied)) - labels) ** 2).mean(1)
        label = table.get(f"{ep:06d}", {}).get("label_key", episode.label_key)
        squared.setdefault(label, []).append(error)
        rows.append({"episode": ep, "label_key": label, "command": episode.cmd, "mse": float(error.mean())})
    if not rows:
        raise ValueError(f"the {split} split of {dataset} is empty")
    per_label = {label: float(np.concatenate(errors).mean()) for label, errors in sorted(squared.items())}
    overall = float(np.concatenate([e for errors in squared.values() for e in errors]).mean())
    return {
        "overall_mse": overall,
        "worst_label_mse": max(per_label.values()),
        "per_label_mse": per_label,
        "episodes": rows,
    }


def run(args: argparse.Namespace) -> int:
    from ocelot_common.model_files import sha256_of
    from ocelot_eval.gates import GateConfigError, check_gates, load_gates
    from ocelot_vla.onnx_policy import OnnxPolicy, PolicyLoadError

    dataset = Path(args.dataset)
    try:
        gates = load_gates(args.gates, "offline", {"overall_mse", "worst_label_mse"})
        policy = OnnxPolicy(args.model)
        metrics = evaluate(policy, dataset, args.split)
    except (GateConfigError, PolicyLoadError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    passed, gate_results = check_gates(gates, metrics)
    report = {
        "pass": passed,
        "verdict": "PASS" if passed else "FAIL",
        "gates": gate_results,
        **metrics,
        "model_path": str(Path(args.model).resolve()),
        "model_sha256": sha256_of(args.model),
        "dataset": str(dataset.resolve()),
        "split": args.split,
    }
    output = Path(args.output) if args.output else Path(args.model).resolve().parent
    output.mkdir(parents=True, exist_ok=True)
    (output / RESULTS_FILE).write_text(json.dumps(report, indent=2) + "\n")
    labels = "  ".join(f"{k} {v:.4f}" for k, v in metrics["per_label_mse"].items())
    print(f"{args.split} MSE {metrics['overall_mse']:.4f} over {len(metrics['episodes'])} episodes ({labels})")
    print(f"{report['verdict']}; report in {output / RESULTS_FILE}")
    return 0 if passed else 1
