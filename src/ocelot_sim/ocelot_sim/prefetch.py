"""Build the scenario the next reset will most likely ask for while the current episode runs.

Generating a scenario draws procedural faces until the Haar cascade accepts
them (~0.2–0.3 s); done on demand it stalls every episode start. Collection
asks for consecutive seeds (or scenario-file entries), so the sim guesses the
next key and builds it in a thread (OpenCV and numpy release the GIL).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetcher(Generic[T]):
    def __init__(self, build: Callable[[Hashable], T]) -> None:
        self._build = build
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._ahead: tuple[Hashable, Future] | None = None

    def get(self, key: Hashable) -> T:
        """The value for key: the prefetched one if it was guessed, else built now (errors raise here)."""
        if self._ahead is not None and self._ahead[0] == key:
            future, self._ahead = self._ahead[1], None
            if future.exception() is None:
                return future.result()
        return self._build(key)  # not guessed, or it failed: build here so the error reaches the caller

    def prefetch(self, key: Hashable) -> None:
        """Start building key in the background (one guess at a time; an older guess is dropped)."""
        if self._ahead is None or self._ahead[0] != key:
            self._ahead = (key, self._executor.submit(self._build, key))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._ahead = None
