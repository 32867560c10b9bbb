"""`ocelot cache-features --dataset DIR --config FILE [--cache-dir DIR] [section.key=value ...]`.

Caches a frozen vision encoder's tokens for a dataset's train and val splits (one fp16 file per episode,
ocelot_train.features) ahead of training, so that a pipeline runs the caching as a stage of its own and
`ocelot train ... train.cache_dir=DIR` finds every token ready. Episodes already cached are not encoded
again. A config whose vision encoder trains has nothing to cache: it says so. Either way DIR/features.json
records what the folder holds (the encoder config, episodes and frames).
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ocelot_train.configuration_vla import ConfigError, load_run_config
    from ocelot_train.dataset import DatasetError
    from ocelot_train.encoders_vision import build_vision_encoder
    from ocelot_train.hub import PretrainedUnavailable
    from ocelot_train.training_data import TrainingData

    overrides = list(args.overrides) + ([f"train.cache_dir={args.cache_dir}"] if args.cache_dir else [])
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
        else:
            data.cache_tokens(build_vision_encoder(config.model.vision), progress=not args.quiet)
    except (ConfigError, DatasetError, PretrainedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
