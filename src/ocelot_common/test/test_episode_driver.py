"""The episode loop's rules (ocelot_common.episode_driver), on an injected clock."""

import pytest

from ocelot_common.episode_driver import Ask, AskAgain, EpisodeDriver, GiveUp, Phase


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def driver(clock: Clock, episodes=(3, 4), **kwargs) -> EpisodeDriver:
    return EpisodeDriver(episodes, reset_timeout=10.0, stall_timeout=5.0, clock=clock, **kwargs)


def test_episodes_run_in_order_and_the_loop_finishes(clock):
    d = driver(clock)
    for episode in (3, 4):
        ask = d.ask()
        assert ask == Ask(episode, 1) and d.current == episode and d.playing
        assert d.answered(ask) and d.phase == Phase.RUNNING
        assert d.finish_episode() == episode and d.phase == Phase.IDLE
    assert d.ask() is None and d.phase == Phase.FINISHED
    assert d.done == 2 and d.given_up == [] and d.current is None


def test_an_unanswered_reset_is_asked_again_then_given_up(clock):
    d = driver(clock)
    first = d.ask()
    clock.now = 10.0
    assert d.check() is None  # not past the timeout yet
    clock.now = 10.5
    verdict = d.check()
    assert isinstance(verdict, AskAgain) and verdict.episode == 3 and d.phase == Phase.IDLE
    second = d.ask()
    assert second == Ask(3, 2) and second != first
    clock.now = 21.0
    verdict = d.check()
    assert isinstance(verdict, GiveUp) and not verdict.stalled
    assert "did not answer the reset within 10 s" in verdict.why
    assert d.give_up() == 3 and d.given_up == [3] and d.done == 0
    assert d.ask() == Ask(4, 1)  # the next episode's asks are counted afresh


def test_only_the_latest_ask_is_answered(clock):
    d = driver(clock)
    first = d.ask()
    clock.now = 11.0
    d.check()
    second = d.ask()
    assert not d.answered(first)  # the late answer to the first ask: the recorder listens for the second
    assert d.phase == Phase.RESETTING
    assert d.answered(second) and d.phase == Phase.RUNNING
    assert not d.answered(second)  # a duplicate answer changes nothing


def test_an_answer_after_giving_up_is_ignored(clock):
    d = driver(clock, reset_attempts=1)
    ask = d.ask()
    clock.now = 11.0
    assert isinstance(d.check(), GiveUp)
    d.give_up()
    assert not d.answered(ask) and d.phase == Phase.IDLE


def test_a_stall_counts_from_the_last_frame_that_progressed(clock):
    d = driver(clock)
    d.answered(d.ask())
    for t in (4.0, 8.0, 12.0):  # frames keep coming: never stalled, though the episode is older than 5 s
        clock.now = t
        d.progressed()
        assert d.check() is None
    clock.now = 17.5
    verdict = d.check()
    assert isinstance(verdict, GiveUp) and verdict.stalled and verdict.episode == 3
    assert "no complete frame for 5 s" in verdict.why


def test_frames_before_the_answer_do_not_put_off_the_reset_timeout(clock):
    d = driver(clock)
    d.ask()
    clock.now = 9.0
    d.progressed()  # frame 0 arrives before the answer (listen before ask)
    clock.now = 10.5
    assert isinstance(d.check(), AskAgain)


def test_pause_drops_the_episode_in_progress_and_stop_ends_the_loop(clock):
    d = driver(clock)
    d.answered(d.ask())
    d.pause()
    assert d.phase == Phase.IDLE and d.todo == [3, 4] and not d.playing
    assert d.ask() == Ask(3, 2)  # asked afresh
    d.stop()
    assert d.phase == Phase.STOPPED and d.check() is None and not d.playing
    with pytest.raises(RuntimeError, match="one episode at a time"):
        d.ask()


def test_misuse_is_refused(clock):
    with pytest.raises(ValueError, match="must be > 0"):
        EpisodeDriver([1], reset_timeout=0.0, stall_timeout=1.0)
    d = driver(clock)
    with pytest.raises(RuntimeError, match="no episode in progress"):
        d.finish_episode()
    d.ask()
    with pytest.raises(RuntimeError, match="one episode at a time"):
        d.ask()
