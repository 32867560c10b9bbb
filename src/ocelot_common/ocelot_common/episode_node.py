"""A lifecycle node that plays the sim's episodes one after another: the shell over `EpisodeDriver`.

It owns what the collector and the evaluator both need: the /sim/reset client, the timer that asks for the
next episode and applies the driver's timeouts, and ~/frame_ack (each camera frame acknowledged, so a
lockstep sim never runs ahead of the node). A subclass says what an episode means to it through the hooks
below; the rules (listen before asking, ask once more, which answer counts, stalls) are the driver's.
"""

from __future__ import annotations

from collections.abc import Iterable

from rclpy.qos import QoSProfile
from std_msgs.msg import Header

from ocelot_common.episode_driver import Ask, AskAgain, EpisodeDriver, GiveUp, Phase
from ocelot_common.lifecycle import ManagedNode
from ocelot_msgs.srv import ResetEpisode

RESET_SERVICE = "/sim/reset"
TICK_S = 0.2


class EpisodeNode(ManagedNode):
    driver: EpisodeDriver

    # -- hooks ---------------------------------------------------------------------
    def reset_request(self, episode: int) -> ResetEpisode.Request:
        """The request that starts `episode` in the sim."""
        raise NotImplementedError

    def listen(self, episode: int) -> None:
        """Start recording `episode`: called just before its reset is asked for (the sim publishes the new
        episode's frame 0 before it answers)."""

    def episode_started(self, episode: int, response: ResetEpisode.Response) -> None:
        """The sim accepted the reset; its answer describes the episode."""

    def episode_lost(self, episode: int, why: str) -> None:
        """The driver gave up on `episode` (refused, unanswered, stalled). The node skips it
        (`skip_episode()`) or ends the loop (`driver.stop()`)."""
        raise NotImplementedError

    def stall_detail(self) -> str:
        """What is missing when an episode stalls (added to the reason it was lost)."""
        return ""

    def all_episodes_done(self) -> None:
        """No episode is left: called once."""

    def before_tick(self) -> bool:
        """The node's own periodic work, before the driver's; False skips the driver this tick."""
        return True

    # -- for subclasses ------------------------------------------------------------------
    def start_episode_loop(
        self, episodes: Iterable[int], reset_timeout: float, stall_timeout: float, ack_qos: QoSProfile | int
    ) -> None:
        """In on_configure: the episodes to play, the timeouts, and what the loop owns."""
        self.driver = EpisodeDriver(episodes, reset_timeout, stall_timeout)
        self._reset_client = self.own(self.create_client(ResetEpisode, RESET_SERVICE))
        self.pubs["ack"] = self.own(self.create_lifecycle_publisher(Header, "~/frame_ack", ack_qos))
        self.own(self.create_timer(TICK_S, self._on_tick))

    def ack_frame(self, stamp) -> None:
        """Tell a lockstep sim that the frame with this stamp has been taken in."""
        if self.active:
            self.pubs["ack"].publish(Header(stamp=stamp))

    def finish_episode(self) -> None:
        """The current episode is complete: on to the next."""
        self.driver.finish_episode()
        self.next_episode()

    def skip_episode(self, why: str) -> None:
        """Give the current episode up and go on to the next."""
        episode = self.driver.give_up()
        self.get_logger().warning(f"skipping episode {episode}: {why}")

    def pause_episodes(self) -> None:
        """On deactivate: the episode in progress is dropped (it is asked for again on activate)."""
        self.driver.pause()  # deactivate comes after configure, which made it

    def next_episode(self) -> None:
        """Ask for the next episode once the sim's reset service is there; all done when none is left."""
        if not self.active or self.driver.phase != Phase.IDLE:
            return
        if not self.driver.todo:
            self.driver.ask()  # -> finished
            self.all_episodes_done()
            return
        if not self._reset_client.service_is_ready():
            return  # the sim is not up yet; the timer tries again
        self.listen(self.driver.todo[0])
        ask = self.driver.ask()
        assert ask is not None
        future = self._reset_client.call_async(self.reset_request(ask.episode))
        future.add_done_callback(lambda f, ask=ask: self._on_answer(ask, f))

    # -- the loop ------------------------------------------------------------------------
    def _on_answer(self, ask: Ask, future) -> None:
        if not self.active or not self.driver.answered(ask):
            return  # a late answer to an ask that was repeated or given up
        response = future.result()
        if not response.success:
            self.episode_lost(ask.episode, f"the sim refused the reset: {response.message}")
        else:
            self.episode_started(ask.episode, response)
        if self.driver.phase == Phase.IDLE:
            self.next_episode()

    def _on_tick(self) -> None:
        if not self.active or not self.before_tick():
            return
        verdict = self.driver.check()
        if isinstance(verdict, AskAgain):
            self.get_logger().warning(f"episode {verdict.episode}: {verdict.why}; asking again")
        elif isinstance(verdict, GiveUp):
            detail = self.stall_detail() if verdict.stalled else ""
            self.episode_lost(verdict.episode, f"{verdict.why}: {detail}" if detail else verdict.why)
        self.next_episode()
