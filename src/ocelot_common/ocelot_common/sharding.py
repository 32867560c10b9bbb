"""Work cut into contiguous shards (local collection workers, Ray tasks): ROS-free."""

from __future__ import annotations


def shards(first: int, n: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) per part, as even as can be, contiguous and covering [first, first + n); at most `parts`
    of them, and none empty."""
    parts = max(1, min(parts, n))
    sizes = [n // parts + (1 if i < n % parts else 0) for i in range(parts)]
    starts = [first + sum(sizes[:i]) for i in range(parts)]
    return list(zip(starts, sizes))
