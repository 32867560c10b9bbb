"""`ocelot merge-datasets`: merge shards into one dataset and rebuild metadata and splits.

Episode files keep their names; two shards holding the same episode index must
hold the same scenario (it is then taken once), otherwise the merge stops and
names both files. `--rebuild DIR` only rebuilds DIR's metadata and splits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ocelot_dataset.episode_io import EPISODE_DIR, EpisodeError, complete_episodes, read_summary
from ocelot_dataset.index import finalize_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="SHARD", help="dataset directories to merge")
    parser.add_argument("--output", help="merged dataset directory")
    parser.add_argument("--rebuild", metavar="DIR", help="only rebuild DIR's metadata.json and splits")
    parser.add_argument("--copy", action="store_true", help="copy files instead of hard-linking them")


def run(args: argparse.Namespace) -> int:
    try:
        if args.rebuild:
            metadata = finalize_dataset(Path(args.rebuild))
        else:
            if not args.inputs or not args.output:
                print("error: give SHARD directories and --output (or --rebuild DIR)", file=sys.stderr)
                return 2
            metadata = merge(list(map(Path, args.inputs)), Path(args.output), args.copy)
    except (EpisodeError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{metadata['n_episodes']} episodes, labels {metadata['label_counts']}, splits {metadata['split_counts']}")
    return 0


def merge(shards: list[Path], output: Path, copy: bool = False) -> dict:
    chosen: dict[int, Path] = {}
    for shard in shards:
        files = complete_episodes(shard)
        if not files:
            raise FileNotFoundError(f"{shard} holds no episodes (expected {shard / EPISODE_DIR}/ep_*.h5)")
        for ep, path in files.items():
            if ep in chosen:
                if read_summary(chosen[ep])["scenario_id"] != read_summary(path)["scenario_id"]:
                    raise FileExistsError(
                        f"episode {ep} differs between {chosen[ep]} and {path}; "
                        "collect shards with non-overlapping --base-ep"
                    )
                continue
            chosen[ep] = path
    target = output / EPISODE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for _, path in sorted(chosen.items()):
        destination = target / path.name
        if destination.exists():
            continue
        if copy:
            shutil.copy2(path, destination)
        else:
            try:
                os.link(path, destination)
            except OSError:  # another file system
                shutil.copy2(path, destination)
    return finalize_dataset(output)
