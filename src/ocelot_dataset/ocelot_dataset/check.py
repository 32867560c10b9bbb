"""Dataset checks, ROS-free: each adds (level, line) to a report; the caller prints and decides.

The splits are checked for what they promise: every episode sits in the split its group key gives (so
growing the dataset moved none), and no face of a val or test episode appears in a training episode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ocelot_common.labels import LABELS, parse_label_mix
from ocelot_dataset.episode_io import FRAME_SHAPE, EpisodeError, complete_episodes, read_episode, read_summary
from ocelot_dataset.index import load_metadata, read_split
from ocelot_dataset.splits import group_key, split_of_group

MIN_LABEL_SHARE = 0.05
MIN_PAN_STD = 0.1
RECOVERY_THRESHOLD = 0.4  # rad/s: a command this large is a correction, not steady tracking


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (OK | WARN | FAIL | info, text)

    def add(self, level: str, text: str) -> None:
        self.lines.append((level, text))

    @property
    def failed(self) -> bool:
        return any(level == "FAIL" for level, _ in self.lines)


def expected_labels(settings: dict) -> set[str]:
    """The labels a collection was asked for: its label mix, or all of them (none for scenario files)."""
    if settings.get("scenarios"):
        return set()
    mix = parse_label_mix(settings.get("label_mix", "")) or dict.fromkeys(LABELS, 1.0)
    return {label for label, weight in mix.items() if weight > 0}


def check_dataset(root: Path, deep: bool = False, recovery_threshold: float = RECOVERY_THRESHOLD) -> Report:
    root = Path(root)
    report = Report()
    files = complete_episodes(root)
    try:
        metadata = load_metadata(root)
    except (FileNotFoundError, ValueError) as exc:
        report.add("FAIL", str(exc))
        return report
    listed = {int(k): v for k, v in metadata.get("episodes", {}).items()}
    if set(files) != set(listed):
        missing, extra = sorted(set(listed) - set(files)), sorted(set(files) - set(listed))
        report.add(
            "FAIL",
            f"metadata.json and episodes/ disagree: missing files {missing[:10]}, "
            f"unlisted files {extra[:10]} (rebuild with `ocelot merge-datasets --rebuild {root}`)",
        )
    else:
        report.add("OK", f"{len(files)} episode files found")
    if not files:
        report.add("FAIL", "no episodes")
        return report

    # counts come from metadata unless asked to open everything
    summaries, broken = {}, []
    if deep:
        for ep, path in files.items():
            try:
                summaries[ep] = read_summary(path)
            except EpisodeError as exc:
                broken.append(str(exc))
    else:
        summaries = {ep: listed[ep] for ep in files if ep in listed}
    for problem in broken:
        report.add("FAIL", problem)
    if deep and not broken:
        report.add("OK", "all files readable")
    frame_counts = Counter(s["n_frames"] for s in summaries.values())
    level = "OK" if len(frame_counts) == 1 else "FAIL"
    report.add(level, f"frames per episode: {dict(sorted(frame_counts.items()))}")

    labels = Counter(s["label_key"] for s in summaries.values())
    total = sum(labels.values())
    for label in sorted(set(labels) | expected_labels(metadata.get("settings", {}))):
        share = labels.get(label, 0) / total
        report.add(
            "OK" if share >= MIN_LABEL_SHARE else "FAIL",
            f"label {label:<14} {labels.get(label, 0):6d} ({share:.1%}, >= {MIN_LABEL_SHARE:.0%} needed)",
        )

    _check_splits(root, summaries, report)
    _check_commands(files, broken, report, recovery_threshold)
    if deep:
        shapes = {tuple(s["frames_shape"][1:]) + (s["frames_dtype"],) for s in summaries.values()}
        report.add("OK" if shapes == {(*FRAME_SHAPE, "uint8")} else "FAIL", f"frame shapes: {sorted(shapes)}")
    return report


def _check_splits(root: Path, summaries: dict, report: Report) -> None:
    try:
        splits = {name: set(read_split(root, name)) for name in ("train", "val", "test")}
    except FileNotFoundError as exc:
        report.add("FAIL", str(exc))
        return
    covered = set().union(*splits.values())
    split_of = {ep: name for name, eps in splits.items() for ep in eps}
    if sum(len(eps) for eps in splits.values()) != len(covered) or covered != set(summaries):
        report.add(
            "FAIL",
            f"splits list {sum(len(v) for v in splits.values())} entries for {len(covered)} episodes; "
            f"the dataset has {len(summaries)} (rebuild with `ocelot merge-datasets --rebuild {root}`)",
        )
        return
    belongs = {ep: split_of_group(group_key(s)) for ep, s in summaries.items()}
    moved = sorted(ep for ep in summaries if split_of[ep] != belongs[ep])
    if moved:
        report.add(
            "FAIL",
            f"{len(moved)} episodes are not in the split of their group (their faces' partition): "
            + ", ".join(f"{ep} in {split_of[ep]}, belongs in {belongs[ep]}" for ep in moved[:10])
            + f" (rebuild with `ocelot merge-datasets --rebuild {root}`)",
        )
    else:
        report.add("OK", "splits follow the face partitions: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    trained_on: dict[str, int] = {}
    for ep in sorted(splits["train"]):
        for texture in summaries[ep].get("textures") or []:
            trained_on.setdefault(texture, ep)
    leaks = [
        (ep, name, texture, trained_on[texture])
        for name in ("val", "test")
        for ep in sorted(splits[name])
        for texture in summaries[ep].get("textures") or []
        if texture in trained_on
    ]
    if leaks:
        report.add(
            "FAIL",
            f"{len(leaks)} held-out faces also appear in training episodes: "
            + ", ".join(
                f"{name} episode {ep} holds {texture}, which training episode {train_ep} holds"
                for ep, name, texture, train_ep in leaks[:10]
            ),
        )
    else:
        report.add("OK", "no face of a val or test episode appears in a training episode")
    unrecorded = sum(not s.get("textures") for s in summaries.values())
    if unrecorded:
        report.add("info", f"{unrecorded} episodes record no faces (older files): grouped by scenario id")
    for name in ("val", "test"):
        if not splits[name]:
            report.add("WARN", f"the {name} split is empty (too few episodes, or none drew {name} faces)")


def _check_commands(files, broken, report, threshold) -> None:
    """Velocity statistics read the small per-frame arrays of every file (frames are not loaded)."""
    pans, tilts = [], []
    for path in files.values():
        if any(str(path) in b for b in broken):
            continue
        try:
            episode = read_episode(path, frames=False)
        except EpisodeError as exc:
            report.add("FAIL", str(exc))
            continue
        pans.append(episode.pan_vel)
        tilts.append(episode.tilt_vel)
    if not pans:
        return
    pan, tilt = np.concatenate(pans), np.concatenate(tilts)
    for name, v in (("pan_vel", pan), ("tilt_vel", tilt)):
        report.add(
            "info",
            f"{name}: mean {v.mean():+.3f} std {v.std():.3f} min {v.min():+.3f} max {v.max():+.3f} "
            f"p95|.| {np.percentile(np.abs(v), 95):.3f}",
        )
    report.add("OK" if pan.std() > MIN_PAN_STD else "FAIL", f"pan_vel std {pan.std():.3f} (> {MIN_PAN_STD} needed)")
    recovery = np.mean(np.maximum(np.abs(pan), np.abs(tilt)) > threshold)
    report.add("info", f"recovery frames (|command| > {threshold} rad/s): {recovery:.1%}")
