"""`ocelot eval --ray ADDRESS --workers N`: a scenario set's episodes sharded over Ray tasks.

Each task evaluates a contiguous shard of the scenario entries with a whole evaluation graph of its own (the
same `ocelot eval` in a temporary folder on its machine, the shard's entries as its scenario file) and
streams each scored episode back as soon as the evaluator has written it. This command puts the episodes
back at their places in the whole set and writes one episodes.jsonl; the report is then made from it exactly
as after a single-process run. In lockstep every episode starts from a reset sim and a policy at rest, so a
shard's episodes are the episodes the whole run would have scored. The model files and a robot profile
file go with the tasks: no filesystem is shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from ocelot_common.sharding import shards as contiguous_shards


class EvaluationFailed(RuntimeError):
    """A shard's evaluation could not run to its end."""


def shards(n: int, workers: int) -> list[range]:
    """The entries' indices in contiguous ranges, as even as can be, at most `workers` of them."""
    return [range(first, first + count) for first, count in contiguous_shards(0, n, workers)]


def shard_options(args: argparse.Namespace) -> tuple[list[str], dict[str, tuple[str, bytes]]]:
    """The `ocelot eval` options every shard runs with, and the files of this machine they name."""
    options = ["--controller", args.controller, "--episode-frames", str(args.episode_frames)]
    files: dict[str, tuple[str, bytes]] = {}
    if args.realtime:
        options.append("--realtime")
    robot = Path(args.robot)
    if robot.suffix in (".yaml", ".yml") and robot.is_file():
        files["robot"] = (robot.name, robot.read_bytes())
    else:
        options += ["--robot", args.robot]
    if args.controller == "vla":
        from ocelot_common.model_files import model_files

        for kind, path in model_files(args.model).items():
            if path.is_file():
                files[f"model:{kind}"] = (path.name, path.read_bytes())
    return options, files


def evaluate_shard(options: list[str], files: dict, entries: list[dict], first: int) -> Iterator[dict]:
    """The body of a Ray task: `ocelot eval` on these entries in a folder of its own; yields each scored
    episode (episodes.jsonl's row) with its index in the whole set, as soon as it is written."""
    from ocelot_eval.evaluator_node import EPISODES_FILE

    with tempfile.TemporaryDirectory(prefix="ocelot-eval-") as tmp:
        root = Path(tmp)
        (root / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": entries}))
        options = list(options)
        for key, (name, data) in files.items():  # this machine's copies of the driver's files
            (root / name).write_bytes(data)
            if key == "robot":
                options += ["--robot", str(root / name)]
            elif key == "model:policy":
                options += ["--model", str(root / name)]
        out = root / "out"
        cmd = ["ocelot", "eval", "--scenarios", str(root / "scenarios.yaml"), "--output", str(out), "--quiet"]
        with open(root / "log", "w") as log:
            proc = subprocess.Popen([*cmd, "--exit-zero", *options], stdout=log, stderr=subprocess.STDOUT)
        sent = 0
        try:
            while True:
                ended = proc.poll() is not None
                rows = (out / EPISODES_FILE).read_text().splitlines() if (out / EPISODES_FILE).is_file() else []
                for line in rows[sent:]:
                    if line.endswith("}"):  # a whole line (the evaluator appends one per episode)
                        row = json.loads(line)
                        row["index"] += first
                        sent += 1
                        yield row
                if ended:
                    break
                time.sleep(0.5)
            if proc.returncode != 0 or sent != len(entries):
                tail = "\n".join((root / "log").read_text().splitlines()[-30:])
                raise EvaluationFailed(f"entries {first}..{first + len(entries) - 1}: exit {proc.returncode}:\n{tail}")
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)


def evaluate_on_ray(args: argparse.Namespace, output: Path, entries: list[dict]) -> None:
    """Every episode of the set into OUTPUT/episodes.jsonl, evaluated by `args.workers` Ray tasks; raises
    EvaluationFailed when a shard fails."""
    import ray
    from tqdm import tqdm

    from ocelot_common.ray_cluster import TASK_CPUS, connect, disconnect
    from ocelot_eval.evaluator_node import EPISODES_FILE

    options, files = shard_options(args)
    connect(args.ray, args.workers)
    task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(evaluate_shard)
    pending = [
        task.remote(options, files, [entries[i] for i in shard], shard.start)
        for shard in shards(len(entries), args.workers)
    ]
    rows: list[dict] = []
    bar = tqdm(total=len(entries), unit="ep", disable=args.quiet, desc=f"evaluating on Ray ({len(pending)} tasks)")
    try:
        while pending:
            ready, _ = ray.wait(pending, num_returns=1, timeout=1.0)
            for generator in ready:
                try:
                    rows.append(ray.get(next(generator)))
                    bar.update(1)
                except StopIteration:
                    pending.remove(generator)
    except ray.exceptions.RayTaskError as exc:
        raise EvaluationFailed(str(exc.cause if isinstance(getattr(exc, "cause", None), Exception) else exc)) from None
    finally:
        for generator in pending:
            ray.cancel(generator, force=True)
        bar.close()
        disconnect()
    rows.sort(key=lambda row: row["index"])
    (output / EPISODES_FILE).write_text("".join(json.dumps(row) + "\n" for row in rows))
