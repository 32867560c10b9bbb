"""The episode loop that a node runs against the sim, without ROS: which episode is asked for, which answer
belongs to which ask, and when to ask again or give up.

A node that plays episodes (the collector, the evaluator) goes through the same states for each one:

    idle --ask--> resetting --answer--> running --done--> idle ... --> finished

- The node listens before it asks: the sim publishes the new episode's frame 0 before it answers, so the
  node starts its recorder, then calls `ask()` and sends the request.
- A reset that is not answered within `reset_timeout` (counted from the ask) is asked again, up to
  `reset_attempts` asks in all: a reply can be lost while DDS discovery is still settling. Each ask gets a
  number, and only the answer to the latest ask counts; a late answer to an earlier one is ignored.
- A running episode stalls when no frame made progress for `stall_timeout` (counted from the answer or
  from the last frame that progressed), the same rule for every node.
- Giving up is a verdict (`GiveUp`), not an action: the collector skips the episode, the evaluator fails
  the whole evaluation (a gate never rests on missing episodes).

Clocks are injected, so the rules are tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

RESET_ATTEMPTS = 2  # asks for one episode before the node gives up on it


class Phase(Enum):
    IDLE = "idle"  # between episodes: the next one may be asked for
    RESETTING = "resetting"  # asked; no answer yet
    RUNNING = "running"  # answered; frames arrive
    FINISHED = "finished"  # every episode done or given up
    STOPPED = "stopped"  # the node ended the loop (a failed evaluation, a failed write)


@dataclass(frozen=True)
class Ask:
    """One reset request: the episode and which ask for it this is (1, 2, ...)."""

    episode: int
    attempt: int


@dataclass(frozen=True)
class AskAgain:
    """The reset was not answered in time; the node should ask once more (and warn why)."""

    episode: int
    why: str


@dataclass(frozen=True)
class GiveUp:
    """The episode cannot be had: the sim never answered, or the camera stalled."""

    episode: int
    why: str
    stalled: bool = False  # frames stopped coming (the node may know which stream is missing)


class EpisodeDriver:
    def __init__(
        self,
        episodes: Iterable[int],
        reset_timeout: float,
        stall_timeout: float,
        reset_attempts: int = RESET_ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if reset_timeout <= 0 or stall_timeout <= 0 or reset_attempts < 1:
            raise ValueError("reset_timeout and stall_timeout must be > 0 and reset_attempts >= 1")
        self.todo = list(episodes)
        self.total = len(self.todo)
        self.reset_timeout, self.stall_timeout, self.reset_attempts = reset_timeout, stall_timeout, reset_attempts
        self.given_up: list[int] = []
        self.phase = Phase.IDLE
        self._clock = clock
        self._ask: Ask | None = None
        self._since = clock()  # the ask, the answer or the last frame that progressed

    @property
    def current(self) -> int | None:
        """The episode being asked for or played, else None."""
        return self.todo[0] if self.todo and self.phase in (Phase.RESETTING, Phase.RUNNING) else None

    @property
    def playing(self) -> bool:
        """Frames belong to the current episode (listen before ask: from the ask on)."""
        return self.phase in (Phase.RESETTING, Phase.RUNNING)

    @property
    def done(self) -> int:
        """Episodes finished (not counting those given up)."""
        return self.total - len(self.todo) - len(self.given_up)

    def ask(self) -> Ask | None:
        """From idle: the next episode to reset (the node has started listening for it). None, and
        finished, when none is left."""
        if self.phase != Phase.IDLE:
            raise RuntimeError(f"ask() while {self.phase.value}: one episode at a time")
        if not self.todo:
            self.phase = Phase.FINISHED
            return None
        episode = self.todo[0]
        attempt = self._ask.attempt + 1 if self._ask is not None and self._ask.episode == episode else 1
        self._ask = Ask(episode, attempt)
        self.phase, self._since = Phase.RESETTING, self._clock()
        return self._ask

    def answered(self, ask: Ask) -> bool:
        """The sim answered `ask`. True when that is the answer the node waits for (it goes on to run the
        episode); False for a late answer to an ask that was given up or asked again."""
        if self.phase != Phase.RESETTING or ask != self._ask:
            return False
        self.phase, self._since = Phase.RUNNING, self._clock()
        return True

    def progressed(self) -> None:
        """A frame of the running episode made progress (recorded, scored): the stall clock starts again.
        Frames that arrive before the answer do not put off the reset timeout."""
        if self.phase == Phase.RUNNING:
            self._since = self._clock()

    def check(self) -> AskAgain | GiveUp | None:
        """The timers' verdict, called periodically: ask again, give up, or nothing to do."""
        waited = self._clock() - self._since
        if self.phase == Phase.RESETTING and waited > self.reset_timeout:
            assert self._ask is not None
            if self._ask.attempt < self.reset_attempts:
                self.phase = Phase.IDLE
                return AskAgain(self._ask.episode, f"no answer to the reset within {self.reset_timeout:.0f} s")
            return GiveUp(self._ask.episode, f"the sim did not answer the reset within {self.reset_timeout:.0f} s")
        if self.phase == Phase.RUNNING and waited > self.stall_timeout:
            return GiveUp(
                self.todo[0], f"no complete frame for {self.stall_timeout:.0f} s (stalled camera?)", stalled=True
            )
        return None

    def finish_episode(self) -> int:
        """The current episode is complete: back to idle."""
        return self._end_episode()

    def give_up(self) -> int:
        """The current episode is given up (skipped): back to idle."""
        episode = self._end_episode()
        self.given_up.append(episode)
        return episode

    def pause(self) -> None:
        """The node was deactivated: the episode in progress is dropped and asked for afresh later."""
        if self.phase in (Phase.RESETTING, Phase.RUNNING):
            self.phase = Phase.IDLE

    def stop(self) -> None:
        """The node ends the loop for good (a failed evaluation, a failed write)."""
        self.phase = Phase.STOPPED

    def _end_episode(self) -> int:
        if self.phase not in (Phase.RESETTING, Phase.RUNNING):
            raise RuntimeError(f"no episode in progress ({self.phase.value})")
        self.phase = Phase.IDLE
        return self.todo.pop(0)
