import threading

import pytest

from ocelot_sim.prefetch import Prefetcher


def test_guessed_key_is_built_once_in_the_background():
    built = []
    prefetcher = Prefetcher(lambda key: (built.append((key, threading.current_thread().name)), key * 2)[1])
    prefetcher.prefetch(3)
    assert prefetcher.get(3) == 6
    assert built == [(3, built[0][1])] and built[0][1].startswith("prefetch")
    prefetcher.close()


def test_wrong_guess_builds_on_demand():
    built = []
    prefetcher = Prefetcher(lambda key: built.append(key) or key)
    prefetcher.prefetch(1)
    assert prefetcher.get(2) == 2
    assert 2 in built
    prefetcher.close()


def test_failed_prefetch_raises_in_the_caller():
    def build(key):
        raise ValueError(f"bad {key}")

    prefetcher = Prefetcher(build)
    prefetcher.prefetch(5)
    with pytest.raises(ValueError, match="bad 5"):
        prefetcher.get(5)
    prefetcher.close()
