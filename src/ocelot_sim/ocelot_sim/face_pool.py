"""The pool of procedural faces the scenario generator draws from, checked once and stored.

Checking that a procedural face is Haar-detectable (flat, dimmed, at 1, 2 and
3 m) costs ~40 ms per candidate; done per episode it took a third of the
sim's time during collection. The pool file lists indices that passed, with
their target points, so generation only draws from it. Rebuild it with

    python -m ocelot_sim.face_pool --count 3000

Any other procedural index still works in a scenario file (checked on load).

The pool is partitioned into train / val / test faces by ocelot_dataset.splits
(a hash of each face's index), so generation can draw from one partition.
"""

from __future__ import annotations

import argparse
import csv
import sys
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from ocelot_dataset.splits import FACE_SPLITS, face_split
from ocelot_sim.paths import worlds_dir

POOL_FILE = "procedural_faces.csv"
POOL_SEED = 2024


@lru_cache(maxsize=len(FACE_SPLITS))
def pool_of_split(split: str) -> tuple[int, ...]:
    """The pool's faces in one partition, in pool order."""
    if split not in FACE_SPLITS:
        raise ValueError(f"unknown face split {split!r}; splits: {', '.join(FACE_SPLITS)}")
    return tuple(i for i in face_pool() if face_split(i) == split)


def pool_path() -> Path:
    return worlds_dir() / POOL_FILE


@lru_cache(maxsize=1)
def face_pool() -> dict[int, tuple[float, float]]:
    """Pool index -> target point (u, v) in [0, 1], in file order."""
    path = pool_path()
    try:
        with open(path, newline="") as handle:
            pool = {int(row["index"]): (float(row["u"]), float(row["v"])) for row in csv.DictReader(handle)}
    except (OSError, KeyError, ValueError) as exc:
        raise FileNotFoundError(
            f"cannot read the face pool {path} ({exc}); rebuild it with `python -m ocelot_sim.face_pool`"
        ) from None
    if not pool:
        raise FileNotFoundError(f"the face pool {path} is empty; rebuild it with `python -m ocelot_sim.face_pool`")
    return pool


def _check(index: int) -> tuple[int, float, float] | None:
    from ocelot_sim.faces import TEXTURE_PX, draw_procedural_face, is_detectable
    from ocelot_sim.haar import box_centre, detect_faces

    if not is_detectable(index):
        return None
    u, v = box_centre(detect_faces(draw_procedural_face(index))[0])
    return index, u / TEXTURE_PX, v / TEXTURE_PX


def build_pool(count: int, processes: int = 2, seed: int = POOL_SEED) -> list[tuple[int, float, float]]:
    from tqdm import tqdm

    candidates = np.random.default_rng(seed).choice(1_000_000, size=count * 4, replace=False)
    found: list[tuple[int, float, float]] = []
    with Pool(processes) as workers, tqdm(total=count, unit="face", desc="checking faces") as bar:
        for result in workers.imap(_check, (int(i) for i in candidates), chunksize=8):
            if result is not None:
                found.append(result)
                bar.update()
            if len(found) == count:
                break
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} of {count} candidates passed; raise the candidate count")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the pool of Haar-detectable procedural faces.")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="default: worlds/" + POOL_FILE)
    args = parser.parse_args(argv)
    rows = build_pool(args.count, args.processes)
    output = args.output or pool_path()
    with open(output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "u", "v"])
        writer.writerows((i, repr(u), repr(v)) for i, u, v in rows)  # exact: halves of a pixel over 256
    print(f"wrote {len(rows)} faces to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
