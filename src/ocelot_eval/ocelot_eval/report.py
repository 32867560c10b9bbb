"""The evaluation report (ROS-free): eval_results.json, plots as PNG and a Markdown summary.

eval_results.json: `pass`, `gates` (threshold, value, pass per gate), `aggregate`,
`per_label`, `episodes` (one row per episode, as LeRobot's eval output lists
them), and what was evaluated (model, its sha256, controller, scenario file, mode,
`robot`: the robot profile's name and every value it ran under).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from ocelot_eval.gates import Gate, check_gates
from ocelot_eval.metrics import EpisodeScore, aggregate, per_label

RESULTS_FILE = "eval_results.json"
SUMMARY_FILE = "summary.md"
RECORDING_DIR = "recording"  # `ocelot eval --record`: a rosbag2 folder (ocelot_dataset.recording)
PLOTS = ("error_over_time.png", "per_label.png", "error_histogram.png")


def build_report(episodes: Sequence[EpisodeScore], gates: list[Gate], run: dict) -> dict:
    """The report of a finished evaluation; `run` says what was evaluated (model, controller, ...)."""
    metrics = aggregate(episodes)
    passed, gate_results = check_gates(gates, metrics)
    rows = [
        {
            "index": ep.index,
            "seed": ep.seed,
            "label_key": ep.label_key,
            "command": ep.command,
            "textures": ep.textures,
            **ep.to_dict()["summary"],
        }
        for ep in episodes
    ]
    return {
        "pass": passed,
        "verdict": "PASS" if passed else "FAIL",
        "gates": gate_results,
        "aggregate": metrics,
        "per_label": per_label(episodes),
        "episodes": rows,
        **run,
    }


def clear_outputs(output: Path) -> None:
    """Remove an earlier run's report, so that a failed run never leaves an old result looking current."""
    for name in (RESULTS_FILE, SUMMARY_FILE, *PLOTS):
        (output / name).unlink(missing_ok=True)
    shutil.rmtree(output / RECORDING_DIR, ignore_errors=True)


def write_report(report: dict, episodes: Sequence[EpisodeScore], output: Path) -> list[Path]:
    """eval_results.json last: its presence means the plots and summary beside it are complete."""
    written = write_plots(episodes, report, output)
    (output / SUMMARY_FILE).write_text(summary_markdown(report))
    (output / RESULTS_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return [*written, output / SUMMARY_FILE, output / RESULTS_FILE]


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _grounding_cell(metrics: dict) -> str:
    """grounding (bias / jitter); n/a without an estimate (reports written before the split: grounding alone)."""
    grounding, bias = metrics.get("grounding_error_px"), metrics.get("grounding_bias_px")
    if grounding is None or bias is None:
        return _fmt(grounding)
    return f"{_fmt(grounding)} ({_fmt(bias)} / {_fmt(metrics.get('grounding_jitter_px'))})"


def _relation_and_result(gate: dict) -> tuple[str, str]:
    relation = "<" if gate["kind"] == "max" else ">="
    return relation, "n/a" if not gate["applies"] else ("pass" if gate["pass"] else "FAIL")


def gate_lines(report: dict) -> list[str]:
    lines = []
    for metric, g in report["gates"].items():
        relation, result = _relation_and_result(g)
        lines.append(f"{metric:<24} {_fmt(g['value'], 3):>9} {relation:>2} {_fmt(g['threshold'], 3):<8} {result}")
    return lines


def robot_line(robot: dict | None) -> str:
    """The profile's name and values in one line ("not recorded" for a report without one)."""
    if not robot:
        return "not recorded"
    values = ", ".join(f"{key} {value}" for key, value in robot.items() if key != "name")
    return f"{robot.get('name')} ({values})"


def summary_markdown(report: dict) -> str:
    agg = report["aggregate"]
    haar = agg["haar_vs_truth"]
    out = [
        f"# Evaluation: {report['verdict']}",
        "",
        f"- controller: {report.get('controller')}, model: `{report.get('model_path')}` "
        f"(sha256 `{report.get('model_sha256')}`)",
        f"- scenarios: `{report.get('scenario_file')}`, {agg['episodes']} episodes, {agg['frames']} frames, "
        f"{report.get('mode')}",
        f"- robot profile: {robot_line(report.get('robot'))}",
        "",
        "## Gates",
        "",
        "| metric | value | threshold | result |",
        "|---|---|---|---|",
    ]
    for metric, g in report["gates"].items():
        relation, result = _relation_and_result(g)
        result = "**FAIL**" if result == "FAIL" else result
        out.append(f"| {metric} | {_fmt(g['value'], 3)} | {relation} {_fmt(g['threshold'], 3)} | {result} |")
    out += [
        "",
        f"Haar against ground truth ({haar['frames_in_view']} frames with the target in view): scored box "
        f"centre {_fmt(haar['mean_position_error_px'])} px from the projected point (p95 "
        f"{_fmt(haar['p95_position_error_px'])}), {haar['misses']} misses ({_fmt(haar['miss_rate'], 3)}), "
        f"{haar['wrong_matches']} wrong matches ({_fmt(haar['wrong_match_rate'], 3)}). "
        f"Ground-truth error: mean {_fmt(agg['gt_mean_error_px'])} px, p95 {_fmt(agg['gt_p95_error_px'])} px.",
        "",
        "## Per label",
        "",
        "Grounding: the policy's own estimate of the target's point against the truth; control: the image "
        "centre to that estimate (frames from the response on; n/a for a controller without an estimate). "
        "Grounding's bias is the length of each episode's steady offset of the estimate from the truth, its "
        "jitter the estimate's scatter about that offset (`grounding_offset_px` of each episode in "
        "eval_results.json gives the offset's direction).",
        "",
        "| label | episodes | mean px | p95 px | lost | response | target sel. | grounding px (bias / jitter) "
        "| control px |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, m in report["per_label"].items():
        out.append(
            f"| {label} | {m['episodes']} | {_fmt(m['mean_error_px'])} | {_fmt(m['p95_error_px'])} | "
            f"{_fmt(m['face_lost_rate'], 3)} | {_fmt(m['response_frames'], 1)} | "
            f"{_fmt(m['target_selection'], 3)} | {_grounding_cell(m)} | {_fmt(m.get('control_error_px'))} |"
        )
    out += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in PLOTS), ""]
    return "\n".join(out)


def write_plots(episodes: Sequence[EpisodeScore], report: dict, output: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths = [output / name for name in PLOTS]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for ep in episodes:
        ax.plot([f.frame for f in ep.frames], ep.errors, lw=0.8, alpha=0.7, label=f"{ep.index} {ep.label_key}")
    gate = report["gates"].get("mean_error_px")
    if gate:
        ax.axhline(gate["threshold"], color="k", ls="--", lw=1, label="mean-error gate")
    ax.set(xlabel="frame", ylabel="Haar tracking error (px; gaps = face lost)", title="Tracking error per episode")
    if len(episodes) <= 12:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    labels = list(report["per_label"])
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    for ax, key, title in zip(
        axes,
        ("mean_error_px", "face_lost_rate", "response_frames"),
        ("mean error (px)", "face-lost rate", "response (frames)"),
    ):
        values = [report["per_label"][label][key] or 0.0 for label in labels]
        ax.bar(labels, values, color="tab:blue")
        ax.set_title(title)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)

    errors = np.concatenate([ep.errors for ep in episodes])
    errors = errors[~np.isnan(errors)]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(errors, bins=50, color="tab:blue")
    ax.set(xlabel="Haar tracking error (px)", ylabel="frames", title=f"{len(errors)} frames with the target detected")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=110)
    plt.close(fig)
    return paths
