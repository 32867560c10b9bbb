"""`ocelot cache-features --dataset DIR --config FILE [--cache-dir DIR] [section.key=value ...]`.

Caches a frozen vision encoder's tokens for a dataset's train and val splits (one fp16 file per episode,
ocelot_train.features) ahead of training, so that a pipeline runs the caching as a stage of its own and
`ocelot train ... train.cache_dir=DIR` finds every token ready. Episodes already cached are not encoded
again. A config whose vision encoder trains has nothing to cache: it says so. Either way DIR/features.json
records what the folder holds (the encoder config, episodes and frames).

With `--ray ADDRESS --workers N`, N Ray tasks each cache a share of the episodes (`--shard k/N`: the episodes
whose index is k modulo N), each writing its episodes' files; the dataset and the cache folder must then be
on a filesystem every worker machine mounts at the same path (a local Ray instance shares this machine's).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

SUMMARY_FILE = "features.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="a dataset folder made by `ocelot collect`")
    parser.add_argument("--config", help="the training run's YAML (see training/): its model.vision is cached")
    parser.add_argument(
        "--cache-dir", help="where the tokens go (default: train.cache_dir, else DATASET/feature_cache)"
    )
    parser.add_argument("overrides", nargs="*", help="section.key=value, as for `ocelot train`")
    parser.add_argument("--shard", metavar="K/N", help="cache only the episodes whose index is K modulo N")
    parser.add_argument(
        "--ray", metavar="ADDRESS", help="cache in Ray tasks: 'local' starts Ray here, otherwise a cluster's address"
    )
    parser.add_argument("--workers", type=int, default=2, help="Ray tasks (with --ray)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k, n = -1, 0
    if not 0 <= k < n:
        raise ValueError(f"--shard {text!r}: want K/N with 0 <= K < N, e.g. 0/4")
    return k, n


def cache_on_ray(args: argparse.Namespace) -> None:
    """N tasks, each `ocelot cache-features ... --shard k/N` on the shared filesystem; raises on a failure."""
    import subprocess

    import ray

    from ocelot_common.ray_cluster import TASK_CPUS, connect, disconnect

    def cache_shard(k: int) -> tuple[int, str]:
        cmd = ["ocelot", "cache-features", "--dataset", str(Path(args.dataset).resolve()), "--quiet"]
        cmd += ["--config", str(Path(args.config).resolve())] if args.config else []
        cmd += ["--cache-dir", str(Path(args.cache_dir).resolve())] if args.cache_dir else []
        result = subprocess.run([*cmd, "--shard", f"{k}/{args.workers}", *args.overrides], capture_output=True)
        return result.returncode, (result.stdout + result.stderr).decode(errors="replace")[-3000:]

    connect(args.ray, args.workers)
    try:
        task = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(cache_shard)
        for k, (code, output) in enumerate(ray.get([task.remote(k) for k in range(args.workers)])):
            if code != 0:
                raise RuntimeError(f"shard {k}/{args.workers} failed (exit {code}):\n{output}")
    finally:
        disconnect()


def run(args: argparse.Namespace) -> int:
    from ocelot_train.configuration_vla import ConfigError, load_run_config
    from ocelot_train.dataset import DatasetError
    from ocelot_train.encoders_vision import build_vision_encoder
    from ocelot_train.hub import PretrainedUnavailable
    from ocelot_train.training_data import TrainingData

    overrides = list(args.overrides) + ([f"train.cache_dir={args.cache_dir}"] if args.cache_dir else [])
    try:
        shard = parse_shard(args.shard)
        if args.ray and (shard or args.workers <= 0):
            raise ValueError("--ray takes --workers N > 0 and shards by itself (no --shard)")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        config = load_run_config(args.config, overrides)
        data = TrainingData(Path(args.dataset), config)
        splits = (data.train_frames, data.val_frames)
        summary = {
            "dataset": str(Path(args.dataset)),
            "vision": asdict(config.model.vision),
            "episodes": sum(len(split.index.episodes) for split in splits),
            "frames": sum(len(split) for split in splits),
            "cached": not config.model.vision.trainable,
        }
        if config.model.vision.trainable:
            print(f"nothing to cache: the {config.model.vision.backend} vision encoder trains with the policy")
        elif args.ray:
            cache_on_ray(args)
        else:
            data.cache_tokens(build_vision_encoder(config.model.vision), progress=not args.quiet, shard=shard)
    except (ConfigError, DatasetError, PretrainedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if shard:
        print(f"shard {shard[0]}/{shard[1]} cached in {data.token_cache}")
        return 0  # the whole folder's summary is written by whoever cached all of it
    data.token_cache.mkdir(parents=True, exist_ok=True)
    (data.token_cache / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{summary['frames']} frames of {summary['episodes']} episodes; {data.token_cache / SUMMARY_FILE}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot cache-features", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
