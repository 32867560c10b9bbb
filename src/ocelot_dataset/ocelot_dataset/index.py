"""Dataset-level files: metadata.json (counts, labels, per-episode summary) and the split files.

A split is a pure function of an episode's group key (ocelot_dataset.splits), so
growing a dataset (a DAgger round, a merge) never moves an episode. The split
files are rebuilt from the episode files themselves, so a merge or a resumed
collection gets the same splits as a single run would; `ocelot check-dataset`
verifies both properties.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

from ocelot_dataset.episode_io import FRAME_SHAPE, SCHEMA_VERSION, complete_episodes, read_summary
from ocelot_dataset.splits import assign_splits, group_key


def camera_hz(periods) -> float | list[float] | None:
    """The camera rate the episodes' own stamps show: one number, or every distinct one if they differ."""
    rates = sorted({round(1.0 / p, 6) for p in periods if p})
    return None if not rates else rates[0] if len(rates) == 1 else rates


def _git_hash() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _atomic_write(path: Path, text: str) -> None:
    """The old file stays whole if this one cannot be written (a full disk)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def finalize_dataset(root: Path, settings: dict | None = None) -> dict:
    """Scan the episode files, write metadata.json and train/val/test.txt; returns the metadata."""
    root = Path(root)
    summaries = {ep: read_summary(path) for ep, path in complete_episodes(root).items()}
    previous = load_metadata(root) if (root / "metadata.json").is_file() else {}
    splits = assign_splits({ep: group_key(s) for ep, s in summaries.items()})
    for name, episodes in splits.items():
        _atomic_write(root / f"{name}.txt", "".join(f"{ep:06d}\n" for ep in episodes))
    frames = [s["n_frames"] for s in summaries.values()]
    metadata = {
        "schema_version": SCHEMA_VERSION,
        "collection_date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_hash": _git_hash(),
        "n_episodes": len(summaries),
        "n_frames": sum(frames),
        "camera_hz": camera_hz(s["camera_period_s"] for s in summaries.values()),
        "frames_per_episode": sorted(set(frames)),
        "image_shape": list(FRAME_SHAPE),
        "label_counts": dict(sorted(Counter(s["label_key"] for s in summaries.values()).items())),
        "split_counts": {name: len(eps) for name, eps in splits.items()},
        "settings": settings if settings is not None else previous.get("settings", {}),
        "episodes": {
            f"{ep:06d}": {
                **{k: s[k] for k in ("n_frames", "scenario_id", "label_key", "cmd", "textures")},
                "group": group_key(s),
            }
            for ep, s in sorted(summaries.items())
        },
    }
    _atomic_write(root / "metadata.json", json.dumps(metadata, indent=1, sort_keys=True))
    return metadata


def load_metadata(root: Path) -> dict:
    path = Path(root) / "metadata.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: is {root} a dataset? (run `ocelot collect` to make one)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


def read_split(root: Path, name: str) -> list[int]:
    path = Path(root) / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rebuild the splits with `ocelot merge-datasets --rebuild {root}`")
    return [int(line) for line in path.read_text().split()]
