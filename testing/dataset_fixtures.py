"""Face textures for the tests' hand-made episodes: a dataset's splits follow its episodes' faces."""

from __future__ import annotations

from itertools import count

from ocelot_dataset.splits import face_split


def face_in(split: str, k: int = 0) -> str:
    """The k-th procedural face texture (by index) of a face-pool partition."""
    indices = (i for i in count() if face_split(i) == split)
    for _ in range(k):
        next(indices)
    return f"procedural:{next(indices)}"


def faces_metadata(split: str, k: int = 0) -> list[dict]:
    """An episode's `faces` metadata with one face of that partition."""
    return [{"texture": face_in(split, k)}]


def split_by_tenth(i: int) -> str:
    """Of every ten, the fourth in val and the eighth in test: 80/10/10, and both held-out splits non-empty
    from eight episodes on."""
    return {3: "val", 7: "test"}.get(i % 10, "train")
