"""`ocelot collect`: run K sim + oracle + collector stacks (each in its own ROS domain) and build the dataset.

Episode range [base_ep, base_ep + n) is cut into K contiguous shards, one per
worker; all write into OUTPUT/episodes. A progress bar counts finished episode
files. At the end the splits and metadata.json are rebuilt from the files.
Re-running the same command resumes: finished episodes are kept. One collection
at a time writes into a folder (a lock that dies with its holder); killed in
any way, the command takes its workers with it. With --policy, the ONNX policy
steers and the oracle only labels (DAgger): the episodes show the states the policy itself reaches.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ocelot_collect.collect_worker import CollectWorker, graph_arguments
from ocelot_common.processes import sigterm_as_interrupt
from ocelot_common.sharding import shards
from ocelot_dataset.episode_io import complete_episodes
from ocelot_dataset.folder_lock import FolderBusy, lock_folder
from ocelot_dataset.index import finalize_dataset

PASSES = 2  # a second pass records what the first skipped (reset timeouts, stalls)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-episodes", type=int, required=True)
    parser.add_argument("--output", required=True, help="dataset directory (created; resumed if it exists)")
    parser.add_argument("--base-seed", type=int, default=0, help="scenario seed of the first episode")
    parser.add_argument("--base-ep", type=int, default=0, help="index of the first episode")
    parser.add_argument("--perturb-interval", type=int, default=15, help="frames between target jumps; 0 = off")
    parser.add_argument("--perturb-range", type=float, default=0.5, help="jump bound on pan, rad")
    parser.add_argument("--perturb-hold", type=int, default=5, help="frames a jump holds")
    parser.add_argument("--warmup-frames", type=int, default=10)
    parser.add_argument("--episode-frames", type=int, default=100)
    parser.add_argument("--scenarios", metavar="FILE", help="scenario YAML; episode i uses entry i")
    parser.add_argument("--label-mix", default="", help="e.g. track:0.4,multi_left:0.15,...")
    parser.add_argument(
        "--robot",
        default="ideal",
        metavar="PROFILE",
        help="robot profile the loop runs under: ideal, pi4 (ocelot_sim/config/robots) or a YAML path",
    )
    parser.add_argument(
        "--robot-randomise",
        default="",
        metavar="RANGES",
        help="per-episode draws of profile values, e.g. command_latency_s=0.06:0.15,"
        "time_constant_s=0.02:0.08 (each episode records the values it ran under)",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel sim+collector stacks")
    parser.add_argument("--policy", metavar="MODEL", help="model.onnx that steers while the oracle labels (DAgger)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also write each episode as a rosbag2 (MCAP) recording, OUTPUT/recordings/ep_NNNNNN (camera images "
        "as JPEG, ground truth, applied command and label): about half as much disk again",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the workers as Ray tasks: 'local' starts Ray on this machine, otherwise a cluster's address "
        "(e.g. 10.0.0.5:6379); each task returns its episode files to this command, which writes them",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def validate(args: argparse.Namespace) -> str | None:
    if args.n_episodes <= 0:
        return "--n-episodes must be > 0"
    if args.workers <= 0:
        return "--workers must be > 0"
    if args.ray is not None and not args.ray.strip():
        return "--ray needs an address: 'local' (Ray on this machine) or a cluster's, e.g. 10.0.0.5:6379"
    if min(args.base_seed, args.base_ep, args.perturb_interval, args.perturb_hold, args.warmup_frames) < 0:
        return "--base-seed, --base-ep, --perturb-interval, --perturb-hold and --warmup-frames must be >= 0"
    if args.episode_frames <= 0:
        return "--episode-frames must be > 0"
    if args.perturb_interval and args.perturb_hold >= args.perturb_interval:
        return "--perturb-hold must be shorter than --perturb-interval"
    if args.scenarios:
        from ocelot_sim.scenario import ScenarioError, from_entry, held_out_of_training, load_scenario_file

        try:
            entries = load_scenario_file(args.scenarios)
            for i, entry in enumerate(entries):
                reason = held_out_of_training(from_entry(entry))
                if reason:
                    return (
                        f"{args.scenarios}: entry {i} (seed {entry['seed']}) is kept out of training: {reason}; "
                        "collect from seeds, or from a scenario file without held-out phrasings or photographs"
                    )
        except ScenarioError as exc:
            return str(exc)
    if args.policy:
        from ocelot_vla.onnx_policy import OnnxPolicy, PolicyLoadError

        try:
            OnnxPolicy(args.policy).set_command("track the face")
        except PolicyLoadError as exc:
            return f"--policy: {exc}"
    from ocelot_sim.robot_profile import RobotProfileError, load_profile, parse_randomisation

    for option, check, value in (
        ("--robot", load_profile, args.robot),
        ("--robot-randomise", parse_randomisation, args.robot_randomise),
    ):
        try:
            check(value)
        except RobotProfileError as exc:
            return f"{option}: {exc}"
    if args.label_mix:
        from ocelot_common.labels import LabelMixError, parse_label_mix

        try:
            parse_label_mix(args.label_mix)
        except LabelMixError as exc:
            return str(exc)
    return None


def run(args: argparse.Namespace) -> int:
    problem = validate(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    sigterm_as_interrupt()
    output = Path(args.output).expanduser().resolve()
    output.mkdir(parents=True, exist_ok=True)
    try:
        lock = lock_folder(output)  # held until this process and every launcher it started are gone
    except FolderBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _collect(args, output, lock)
    finally:
        os.close(lock)


def _collect(args: argparse.Namespace, output: Path, lock: int) -> int:
    settings = {
        k: getattr(args, k)
        for k in (
            "base_seed",
            "base_ep",
            "perturb_interval",
            "perturb_range",
            "perturb_hold",
            "warmup_frames",
            "episode_frames",
            "label_mix",
        )
    }
    settings["scenarios"] = str(Path(args.scenarios).resolve()) if args.scenarios else ""
    from ocelot_sim.robot_profile import profile_reference

    settings["robot"], settings["robot_randomise"] = profile_reference(args.robot), args.robot_randomise
    if args.policy:
        from ocelot_common.model_files import sha256_of

        settings["policy"] = {"path": str(Path(args.policy).resolve()), "sha256": sha256_of(args.policy)}
    wanted = range(args.base_ep, args.base_ep + args.n_episodes)
    code = 0
    try:
        for attempt in range(1, PASSES + 1):
            code = _collect_pass(args, output, settings, wanted, lock)
            missing = [ep for ep in wanted if ep not in complete_episodes(output)]
            if code or not missing:
                break
            if attempt < PASSES:
                print(f"{len(missing)} episode(s) were skipped (see the warnings); recording them again")
    finally:
        if args.ray:
            from ocelot_common.ray_cluster import disconnect

            disconnect()
    try:
        metadata = finalize_dataset(output, settings)
    except OSError as exc:
        print(
            f"error: could not write the dataset index in {output}: {exc}; the episode files are whole. "
            "Free space and run the same command again",
            file=sys.stderr,
        )
        return 1
    have = sum(1 for ep in complete_episodes(output) if ep in wanted)
    print(
        f"{have} of {len(wanted)} episodes in {output} ({metadata['n_episodes']} in the dataset; "
        f"splits {metadata['split_counts']})"
    )
    return code if have == len(wanted) or code else 1


def _collect_pass(args: argparse.Namespace, output: Path, settings: dict, wanted: range, lock: int) -> int:
    """One run of the workers over the range; each records only the episodes still missing."""
    if args.ray:
        from ocelot_collect.ray_collect import collect_on_ray

        return collect_on_ray(args, output, settings, wanted)
    workers = [
        CollectWorker(*graph_arguments(args, str(output), settings, first, count), pass_fds=(lock,))
        for first, count in shards(args.base_ep, args.n_episodes, args.workers)
    ]
    try:
        return _watch(workers, output, wanted, args.quiet, args.warmup_frames + args.episode_frames)
    finally:
        for worker in workers:
            worker.stop()


def _watch(workers: list[CollectWorker], output: Path, wanted: range, quiet: bool, frames_per_episode: int) -> int:
    """Until every worker's collector says finished on its ~/progress; 1 when one says it stopped (a write
    failed), when a worker's lifecycle manager reports a node not alive, or when a worker's launcher ends."""
    bar = ProgressBar(len(wanted), sum(1 for ep in complete_episodes(output) if ep in wanted), quiet)
    relayed = [0] * len(workers)
    try:
        while True:
            for worker in workers:
                worker.watch.poll(timeout=0.5 / len(workers))
            bar.count(sum(1 for ep in complete_episodes(output) if ep in wanted), frames_per_episode)
            for i, worker in enumerate(workers):  # the launcher's own lines and skipped episodes, for the user
                for line in worker.proc.lines[relayed[i] :]:
                    if line.startswith("[ocelot launch]") or "skipping episode" in line:
                        bar.write(f"[worker {i}] {line}")
                relayed[i] = len(worker.proc.lines)
            problem = next(((i, w.problem()) for i, w in enumerate(workers) if w.problem()), None)
            if problem:
                bar.write(f"error: worker {problem[0]}: {problem[1]}; re-run the same command to resume")
                return 1
            if all(w.finished for w in workers):
                return 0
    except KeyboardInterrupt:
        bar.write("interrupted; re-run the same command to resume")
        return 130
    finally:
        bar.close()


class ProgressBar:
    """One bar for a collection: episodes done of the range, episodes/hour and frames/s since it started, and
    (on Ray) what each worker has delivered."""

    def __init__(self, total: int, initial: int, quiet: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            initial=initial,
            unit="ep",
            disable=quiet,
            dynamic_ncols=True,
            mininterval=1.0 if sys.stderr.isatty() else 15.0,
        )
        self._start_count, self._started = initial, time.monotonic()

    def count(self, done: int, frames_per_episode: int, per_worker: str = "") -> None:
        if done == self._bar.n:
            return
        rate = (done - self._start_count) / max(time.monotonic() - self._started, 1e-6)
        postfix = f"{rate * 3600:.0f} ep/h, {rate * frames_per_episode:.0f} frames/s"
        self._bar.set_postfix_str(f"{postfix}{', ' + per_worker if per_worker else ''}", refresh=False)
        self._bar.update(done - self._bar.n)

    def write(self, line: str) -> None:
        self._bar.write(line)

    def close(self) -> None:
        self._bar.close()
