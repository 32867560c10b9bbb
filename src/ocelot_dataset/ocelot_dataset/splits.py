"""Train / val / test splits, as pure functions of keys: faces, collection seeds and episode groups.

The face pool is partitioned 80/10/10 by a hash of each face's index, so a
face's partition never changes as a dataset grows. Collection draws all faces
of an episode from the partition its seed hashes to, and a dataset's splits
follow the faces: an episode's group is the partition its faces come from, so
the test split's faces appear in no training episode. Should an episode's faces
span partitions, it goes to the most held-out one among them (test, then val),
so a held-out face is never trained on. Episodes that record no faces (older
files) are grouped by scenario id, hashed the same way. The photographs are
evaluation-only: always "test".
"""

from __future__ import annotations

import hashlib
from itertools import accumulate

FACE_SPLITS = ("train", "val", "test")
SPLIT_SHARES = (80, 10, 10)  # per cent, in FACE_SPLITS order


def split_of_key(key: str) -> str:
    """The split a key hashes to (80/10/10): a pure function, so no key ever moves."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % sum(SPLIT_SHARES)
    return next(name for name, upper in zip(FACE_SPLITS, accumulate(SPLIT_SHARES)) if bucket < upper)


def face_split(index: int) -> str:
    """The partition of procedural face `index`."""
    return split_of_key(f"face:{int(index)}")


def split_for_seed(seed: int) -> str:
    """The partition a collection seed draws its faces from."""
    return split_of_key(f"seed:{int(seed)}")


def texture_split(texture: str) -> str:
    """The partition of a face texture: procedural faces by index; photographs are evaluation-only (test)."""
    kind, _, name = texture.partition(":")
    return face_split(int(name)) if kind == "procedural" else "test"


def group_key(summary: dict) -> str:
    """An episode's group: the partition of its faces (the most held-out one if they span several), or
    `scenario:<id>` for an episode that records no faces."""
    textures = summary.get("textures") or []
    if textures:
        return max((texture_split(t) for t in textures), key=FACE_SPLITS.index)
    return f"scenario:{summary.get('scenario_id', '')}"


def split_of_group(key: str) -> str:
    """The split of a group key: a face partition is its own split; any other key hashes 80/10/10."""
    return key if key in FACE_SPLITS else split_of_key(key)


def assign_splits(group_of: dict[int, str]) -> dict[str, list[int]]:
    """episode -> group key  =>  split -> sorted episodes; each episode's split depends on its key alone."""
    splits: dict[str, list[int]] = {name: [] for name in FACE_SPLITS}
    for episode, key in sorted(group_of.items()):
        splits[split_of_group(key)].append(episode)
    return splits
