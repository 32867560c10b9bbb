"""`ocelot eval`: closed-loop evaluation of a controller on a scenario set, and the deploy gate.

Launches the sim, the controller (the ONNX policy, the oracle, or a zero
controller) and the evaluator in a ROS domain of their own, runs every scenario,
and writes OUTPUT/eval_results.json, plots and summary.md. Exit 0: PASS,
1: FAIL (0 with --exit-zero), 2: the evaluation could not run (bad scenario file, gates file or model,
a node that died or stalled) - then no report is written, and an earlier one
in OUTPUT is removed first, so no stale result can pass for this run's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ocelot_common.gate_binding import DEPLOY_ROBOT
from ocelot_common.processes import LaunchProc, WaitTimeout, fresh_domain_id, sigterm_as_interrupt

GRAPHS = {"vla": "eval", "oracle": "eval_oracle", "zero": "eval_zero"}
NO_PROGRESS_TIMEOUT_S = 180.0  # the evaluator gives up on a stalled episode well before this


class EvalError(RuntimeError):
    """The evaluation could not be run (exit 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model.onnx written by `ocelot export` (required for --controller vla)")
    parser.add_argument("--scenarios", required=True, metavar="FILE", help="scenario YAML; one episode per entry")
    parser.add_argument("--output", required=True, metavar="DIR", help="report directory (created)")
    parser.add_argument("--controller", choices=sorted(GRAPHS), default="vla")
    parser.add_argument(
        "--realtime", action="store_true", help="real-time sim (controller latency counts) instead of lockstep"
    )
    parser.add_argument(
        "--robot",
        default=DEPLOY_ROBOT,
        metavar="PROFILE",
        help=f"robot profile the loop runs under: ideal, pi4 (ocelot_sim/config/robots) or a YAML "
        f"path (default: {DEPLOY_ROBOT}, the deploy gate's)",
    )
    parser.add_argument("--episode-frames", type=int, default=100, help="frames scored per episode")
    parser.add_argument("--gates", metavar="FILE", help="gate thresholds (default: ocelot_eval/config/gates.yaml)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write OUTPUT/recording: a rosbag2 folder (MCAP) of every scored frame - camera image (JPEG), "
        "ground truth, applied command, the policy's status, per-frame and per-episode metrics - for Foxglove "
        "or `ros2 bag play`",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="shard the scenarios over Ray tasks, each with an evaluation graph of its own: 'local' starts Ray "
        "on this machine, otherwise a cluster's address; the report is the single-process run's",
    )
    parser.add_argument("--workers", type=int, default=1, help="Ray tasks (with --ray)")
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 on a FAIL verdict too (the report says it; 2 still means the evaluation could not run): "
        "for a pipeline that keeps the report of every model it gates",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def validate(args: argparse.Namespace) -> tuple[dict, int]:
    """Everything that can be checked before a node starts; returns what the report says was evaluated,
    and the number of scenarios."""
    from ocelot_common.gate_binding import binding
    from ocelot_eval.gates import GateConfigError, default_gates_file, gate_section, load_gates
    from ocelot_eval.metrics import CLOSED_LOOP_METRICS
    from ocelot_sim.robot_profile import RobotProfileError, load_profile
    from ocelot_sim.scenario import ScenarioError, from_entry, load_scenario_file

    if args.episode_frames <= 0:
        raise EvalError("--episode-frames must be > 0")
    if args.workers <= 0:
        raise EvalError("--workers must be > 0")
    if args.ray is not None and not args.ray.strip():
        raise EvalError("--ray needs an address: 'local' (Ray on this machine) or a cluster's, e.g. 10.0.0.5:6379")
    if args.ray and args.record:
        raise EvalError("--record is not available with --ray (each shard's graph would record apart): drop one")
    try:
        robot = load_profile(args.robot)
    except RobotProfileError as exc:
        raise EvalError(f"--robot: {exc}") from None
    try:
        args.gate_list = load_gates(args.gates, "closed_loop", set(CLOSED_LOOP_METRICS))
        entries = load_scenario_file(args.scenarios)
        for i, entry in enumerate(entries):
            try:
                from_entry(entry)
            except ScenarioError as exc:
                raise ScenarioError(f"{args.scenarios}: entry {i}: {exc}") from None
    except (GateConfigError, ScenarioError) as exc:
        raise EvalError(str(exc)) from None
    run = {
        "controller": args.controller,
        "scenario_file": str(Path(args.scenarios).resolve()),
        "gates_file": str(Path(args.gates).resolve()) if args.gates else str(default_gates_file()),
        "binding": binding(gate_section(args.gates, "closed_loop"), entries, robot.values()),
        "robot": robot.values(),
        "mode": "real time" if args.realtime else "lockstep",
        "episode_frames": args.episode_frames,
        "model_path": None,
        "model_sha256": None,
    }
    if args.controller == "vla":
        run.update(check_model(args.model))
    return run, len(entries)


def check_model(model: str | None) -> dict:
    """Load the model as the VLA node will, and encode a command: a model that fails here never runs."""
    from ocelot_common.model_files import model_files, sha256_of
    from ocelot_vla.onnx_policy import OnnxPolicy, PolicyLoadError

    if not model:
        raise EvalError("--model is required with --controller vla")
    try:
        policy = OnnxPolicy(model)
        policy.set_command("track the face")
    except PolicyLoadError as exc:
        raise EvalError(f"the model cannot be loaded: {exc}") from None
    except Exception as exc:  # onnxruntime's own errors on a graph that loads but cannot run
        raise EvalError(f"the model loads but does not run: {str(exc).splitlines()[0][:300]}") from None
    from ocelot_common.gate_binding import MODEL_FILE_KINDS

    files = model_files(model)
    hashes = {kind: sha256_of(files[kind]) for kind in MODEL_FILE_KINDS}
    return {
        "model_path": str(Path(model).resolve()),
        "model_sha256": hashes["policy"],
        "text_model_sha256": hashes["text"],
        "model_files": hashes,
    }


def run(args: argparse.Namespace) -> int:
    from ocelot_eval.report import clear_outputs

    output = Path(args.output).expanduser().resolve()
    if output.is_dir():
        clear_outputs(output)  # whatever happens next, an earlier result cannot pass for this run's
    try:
        evaluated, n = validate(args)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sigterm_as_interrupt()
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        if args.ray:
            _run_on_ray(args, output)
        else:
            _run_graph(args, output, n)
        return _report(args, output, evaluated, n, time.monotonic() - started)
    except EvalError as exc:
        print(f"error: {exc}; no report written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no report written", file=sys.stderr)
        return 130


def _run_graph(args: argparse.Namespace, output: Path, n: int) -> None:
    from ocelot_sim.robot_profile import profile_reference

    graph_args = {
        "scenario_file": str(Path(args.scenarios).resolve()),
        "output": str(output),
        "episode_frames": args.episode_frames,
        "lockstep": "false" if args.realtime else "true",
        "robot_profile": profile_reference(args.robot),
        "record": "true" if args.record else "false",
    }
    if args.controller == "vla":
        graph_args["model_path"] = str(Path(args.model).resolve())
    cmd = ["ocelot", "launch", GRAPHS[args.controller], *(f"{k}:={v}" for k, v in graph_args.items())]
    from ocelot_common.graph_watch import GraphWatch
    from ocelot_msgs.msg import EvaluationProgress

    domain = fresh_domain_id()
    proc = LaunchProc(cmd, domain)
    try:
        with GraphWatch(domain, EvaluationProgress, "/evaluator/progress") as watch:
            _watch(proc, watch, n, args.quiet, args.episode_frames)
    finally:
        proc.signal()
        try:
            proc.wait(30)
        except WaitTimeout:
            proc.kill()


def _run_on_ray(args: argparse.Namespace, output: Path) -> None:
    from ocelot_eval.ray_eval import EvaluationFailed, evaluate_on_ray
    from ocelot_sim.scenario import load_scenario_file

    try:
        evaluate_on_ray(args, output, load_scenario_file(args.scenarios))
    except EvaluationFailed as exc:
        raise EvalError(f"evaluation failed on Ray: {exc}") from None


def _watch(proc: LaunchProc, watch, n: int, quiet: bool, frames: int) -> None:
    """Until the evaluator's ~/progress says finished; an EvalError when it says failed, when the lifecycle
    manager's ~/health says a node is not alive, when the graph's launcher ends, or when nothing progresses."""
    from tqdm import tqdm

    bar = tqdm(
        total=n,
        unit="ep",
        disable=quiet,
        dynamic_ncols=True,
        desc="evaluating",
        mininterval=1.0 if sys.stderr.isatty() else 15.0,
    )
    started = last_progress = time.monotonic()
    try:
        while True:
            watch.poll(timeout=0.25)
            progress = watch.progress
            done = int(progress.episodes_done) if progress is not None else 0
            if done != bar.n:
                last_progress = time.monotonic()
                bar.set_postfix_str(f"{done * frames / (last_progress - started):.1f} frames/s", refresh=False)
                bar.update(done - bar.n)
            if progress is not None and progress.failed:
                raise EvalError(f"evaluation failed: {progress.reason}\n" + "\n".join(proc.lines[-30:]))
            if watch.dead_nodes:
                raise EvalError(
                    f"node '{watch.dead_nodes[0]}' of the evaluation graph died or hangs (the lifecycle manager "
                    "reports it not alive); the graph's last output:\n" + "\n".join(proc.lines[-30:])
                )
            if progress is not None and progress.finished:
                return
            if proc.popen.poll() is not None:
                raise EvalError("the evaluation graph stopped early; its output:\n" + proc.output)
            if time.monotonic() - last_progress > NO_PROGRESS_TIMEOUT_S:
                raise EvalError(
                    f"no episode finished for {NO_PROGRESS_TIMEOUT_S:.0f} s; last output:\n"
                    + "\n".join(proc.lines[-30:])
                )
    finally:
        bar.close()


def _report(args: argparse.Namespace, output: Path, evaluated: dict, n: int, seconds: float) -> int:
    import json

    from ocelot_eval.evaluator_node import EPISODES_FILE
    from ocelot_eval.metrics import EpisodeScore
    from ocelot_eval.report import build_report, gate_lines, write_report

    lines = (output / EPISODES_FILE).read_text().splitlines()
    episodes = sorted((EpisodeScore.from_dict(json.loads(line)) for line in lines), key=lambda e: e.index)
    if [ep.index for ep in episodes] != list(range(n)):
        raise EvalError(f"{output / EPISODES_FILE} holds episodes {[ep.index for ep in episodes]}, expected 0..{n - 1}")
    evaluated["wall_seconds"] = round(seconds, 1)
    report = build_report(episodes, args.gate_list, evaluated)
    write_report(report, episodes, output)
    print("\n".join(gate_lines(report)))
    print(f"{report['verdict']}: {n} episodes in {seconds:.0f} s; report in {output}")
    if args.record:
        from ocelot_eval.report import RECORDING_DIR

        folder = output / RECORDING_DIR
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"recording: {folder} ({size / 2**20:.1f} MiB, {size / n / 2**20:.2f} MiB per episode)")
    return 0 if report["pass"] or args.exit_zero else 1
