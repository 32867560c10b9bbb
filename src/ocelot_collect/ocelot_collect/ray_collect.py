"""`ocelot collect --ray ADDRESS`: the collection's workers as Ray tasks.

Each task runs one worker stack (ocelot_collect.collect_worker: sim + oracle + collector in a ROS domain of
its own) on a contiguous range of the episodes still missing, in a temporary folder on its own machine, and
streams every episode file (with its recording) back as soon as it is complete: no filesystem is shared.
This command writes each one into the dataset as a local collection does (a temporary name, then renamed),
so resume, the folder lock, the splits and `ocelot check-dataset` are those of a local collection; the
graph's arguments, and so every episode's recorded settings, are this command's, so the same seeds give the
same files. What a task needs from this machine (a scenario file, a robot profile file, the steering model)
travels with it.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ocelot_dataset.episode_io import complete_episodes, remove_partial, write_episode_file

SHIPPED_PATHS = ("scenario_file", "robot_profile")  # graph arguments that may name a file on this machine


class CollectionFailed(RuntimeError):
    """A worker could not go on (a node died, a write failed, its graph ended)."""


def missing_runs(wanted: range, done: set[int], workers: int) -> list[tuple[int, int]]:
    """(first, count) ranges covering exactly the wanted episodes not done, at most about `workers` of them
    (a gap in what is done splits a range: each range is contiguous)."""
    missing = [ep for ep in wanted if ep not in done]
    if not missing:
        return []
    size = -(-len(missing) // max(1, workers))
    runs: list[tuple[int, int]] = []
    for ep in missing:
        if runs and runs[-1][0] + runs[-1][1] == ep and runs[-1][1] < size:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((ep, 1))
    return runs


def shipped_files(graph_args: dict) -> dict[str, tuple[str, bytes]]:
    """The files on this machine a task needs: graph argument -> (file name, content)."""
    files = {}
    for key in SHIPPED_PATHS:
        path = Path(str(graph_args.get(key) or ""))
        if path.is_absolute() and path.is_file():
            files[key] = (path.name, path.read_bytes())
    if graph_args.get("model_path"):
        from ocelot_common.model_files import model_files

        for kind, path in model_files(graph_args["model_path"]).items():
            if path.is_file():
                files[f"model_path:{kind}"] = (path.name, path.read_bytes())
    return files


def collect_range(graph: str, graph_args: dict, files: dict[str, tuple[str, bytes]]) -> Iterator[tuple]:
    """The body of a Ray task: one worker stack on its range, in a folder of its own; yields (episode,
    episode file bytes, {recording file name: bytes}) for each episode as soon as it is complete."""
    from ocelot_collect.collect_worker import CollectWorker
    from ocelot_dataset.recording import episode_recording

    with tempfile.TemporaryDirectory(prefix="ocelot-collect-") as tmp:
        root = Path(tmp)
        graph_args = dict(graph_args, output=str(root / "dataset"))
        for key, (name, data) in files.items():  # this machine's copies of the driver's files
            folder = root / key.split(":")[0]
            folder.mkdir(exist_ok=True)
            (folder / name).write_bytes(data)
            if ":" not in key or key.endswith(":policy"):
                graph_args[key.split(":")[0]] = str(folder / name)
        worker = CollectWorker(graph, graph_args)
        sent: set[int] = set()
        try:
            while True:
                worker.watch.poll(timeout=0.5)
                finished = worker.finished  # before the files: every file is written once it says so
                for episode, path in sorted(complete_episodes(root / "dataset").items()):
                    if episode not in sent:
                        sent.add(episode)
                        recording = episode_recording(root / "dataset", episode)
                        parts = {p.name: p.read_bytes() for p in recording.iterdir()} if recording.is_dir() else {}
                        yield episode, path.read_bytes(), parts
                if finished:
                    return
                problem = worker.problem()
                if problem:
                    raise CollectionFailed(problem)
        finally:
            worker.stop()


def collect_on_ray(args: argparse.Namespace, output: Path, settings: dict, wanted: range) -> int:
    """One pass of a collection on Ray over the episodes of `wanted` still missing; 1 when a worker failed."""
    import ray

    from ocelot_collect.cli_collect import ProgressBar
    from ocelot_collect.collect_worker import graph_arguments
    from ocelot_common.ray_cluster import TASK_CPUS, connect
    from ocelot_dataset.recording import episode_recording, place_recording

    remove_partial(output, wanted)
    runs = missing_runs(wanted, set(complete_episodes(output)), args.workers)
    if not runs:
        return 0
    connect(args.ray, args.workers)
    task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(collect_range)
    tasks = {}
    for i, (first, count) in enumerate(runs):
        graph, graph_args = graph_arguments(args, "", settings, first, count)
        tasks[task.remote(graph, graph_args, shipped_files(graph_args))] = i
    delivered = [0] * len(runs)
    bar = ProgressBar(len(wanted), sum(1 for ep in complete_episodes(output) if ep in wanted), args.quiet)
    frames = args.warmup_frames + args.episode_frames
    try:
        while tasks:
            ready, _ = ray.wait(list(tasks), num_returns=1, timeout=1.0)
            for generator in ready:
                try:
                    episode, data, recording = ray.get(next(generator))
                except StopIteration:
                    del tasks[generator]
                    continue
                if recording:  # the bag first, whole, as a local collector writes it
                    place_recording(episode_recording(output, episode), recording)
                write_episode_file(output, episode, data)
                delivered[tasks[generator]] += 1
                per_worker = " ".join(f"w{i}:{n}/{runs[i][1]}" for i, n in enumerate(delivered))
                bar.count(sum(1 for ep in complete_episodes(output) if ep in wanted), frames, per_worker)
        return 0
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else exc
        bar.write(f"error: a Ray worker failed: {cause}; re-run the same command to resume")
        return 1
    except KeyboardInterrupt:
        bar.write("interrupted; re-run the same command to resume")
        return 130
    finally:
        for generator in tasks:
            ray.cancel(generator, force=True)
        bar.close()
