"""Collector lifecycle node: resets the sim per episode, records (frame, command, truth), writes HDF5.

The label of each frame is the command on command_topic stamped with that frame: what the sim applied
(/cmd_vel_applied, the oracle in control), or the oracle's answer while a policy steers (DAgger: the
collect_dagger graph; the applied command is then recorded beside the label, as what the policy's
previous-command input saw). Driven by the camera (each recorded frame is one camera frame): for each episode index in
[base_ep, base_ep + n_episodes) that has no file yet, it calls /sim/reset
(seed = base_seed + i), lets `warmup_frames` pass, records `episode_frames`
frames, and writes the episode in a separate writer process while the next one
runs (gzip in h5py holds the GIL; in a thread it stalled this node's callbacks).
A reset that fails or times out, or a camera that stalls, skips the episode
with a warning (the rules are ocelot_common.episode_driver's). A write that
fails (a full disk) stops the collection: the failed episode's partial file
is removed, the finished ones stay, and the log says "collection stopped".
Re-running resumes: finished files are kept, leftovers of a killed writer are
removed. Progress goes to ~/progress. With `record`, each episode's recorded
frames (camera image as JPEG, truth, applied command and label) also go to a
rosbag2 recording, `output`/recordings/ep_NNNNNN (MCAP; ocelot_dataset.recording).
"""

from __future__ import annotations

import errno
import json
import math
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path

from geometry_msgs.msg import TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image

from ocelot_collect.assembler import EpisodeAssembler
from ocelot_common.camera import CAMERA_PX
from ocelot_common.episode_driver import Phase
from ocelot_common.episode_node import EpisodeNode
from ocelot_common.images import image_to_rgb, jpeg_message
from ocelot_common.lifecycle import run_node
from ocelot_common.parameters import between, json_object, non_negative, not_blank, positive, refuse_bad_values
from ocelot_common.preprocessing import to_policy_frame
from ocelot_common.processes import exit_with_parent
from ocelot_common.stamps import nanoseconds
from ocelot_dataset.episode_io import EpisodeError, complete_episodes, read_summary, remove_partial, write_episode
from ocelot_dataset.index import finalize_dataset
from ocelot_dataset.recording import COLLECTION_TOPICS, EpisodeTape, episode_recording, staging_folder, write_recording
from ocelot_msgs.msg import CollectionProgress, GroundTruthFaceArray
from ocelot_msgs.srv import ResetEpisode
from ocelot_sim.ros_convert import robot_from_msg

RELIABLE = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE)
# the last progress stays for whoever subscribes late (the CLI that started the worker)
LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
APPLIED_TOPIC = "/cmd_vel_applied"
PARAMETERS = {
    "output": "dataset",
    "n_episodes": 10,
    "base_seed": 0,
    "base_ep": 0,
    "warmup_frames": 10,
    "episode_frames": 100,
    "reset_timeout": 10.0,
    "stall_timeout": 10.0,
    "write_index": True,
    "compression_level": 1,
    "settings_json": "{}",
    "command_topic": APPLIED_TOPIC,
    "record": False,
}


class CollectorNode(EpisodeNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("collector", **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        refuse_bad_values(
            self,
            {
                "n_episodes": positive,
                "base_seed": non_negative,
                "base_ep": non_negative,
                "warmup_frames": non_negative,
                "episode_frames": positive,
                "reset_timeout": positive,
                "stall_timeout": positive,
                "compression_level": between(0, 9),
                "settings_json": json_object,
                "output": not_blank,
            },
        )
        self._writer = None
        self._pending = []
        self._tape: EpisodeTape | None = None  # with `record`: the running episode's messages

    # -- lifecycle ---------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive: plan the episodes still missing. FAILURE on bad parameters."""
        p = self.param
        try:
            self.output = Path(p("output")).expanduser().resolve()
            self.base_seed, self.base_ep, n = int(p("base_seed")), int(p("base_ep")), int(p("n_episodes"))
            if n <= 0 or self.base_seed < 0 or self.base_ep < 0:
                raise ValueError("n_episodes must be > 0, base_seed and base_ep >= 0")
            self.assembler = EpisodeAssembler(
                int(p("warmup_frames")), int(p("episode_frames")), record_applied=p("command_topic") != APPLIED_TOPIC
            )
            self.settings = json.loads(p("settings_json"))
            self.output.mkdir(parents=True, exist_ok=True)
        except (ValueError, OSError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.wanted = range(self.base_ep, self.base_ep + n)
        for leftover in remove_partial(self.output, self.wanted):
            self.get_logger().warning(f"removed {leftover.name}, left by an interrupted write")
        done = self._verified_done()
        todo = [ep for ep in self.wanted if ep not in done]
        self._tape = self._recording_tape() if p("record") else None
        self.finished, self._episode_started = False, 0.0
        self.get_logger().info(f"{len(done)} of {n} episodes already in {self.output}; {len(todo)} to record")
        # spawn, not fork: a forked copy of a process running DDS threads is not safe
        # and it dies with this node, however the node ends (its resource tracker then exits too)
        self._writer = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent
        )
        self.pubs["progress"] = self.own(self.create_lifecycle_publisher(CollectionProgress, "~/progress", LATCHED))
        self.start_episode_loop(todo, float(p("reset_timeout")), float(p("stall_timeout")), RELIABLE)
        self.own(self.create_subscription(Image, "/camera/image_raw", self._on_image, RELIABLE))
        self.own(self.create_subscription(TwistStamped, p("command_topic"), self._on_command, RELIABLE))
        if self.assembler.record_applied:
            self.own(self.create_subscription(TwistStamped, APPLIED_TOPIC, self._on_applied, RELIABLE))
        self.own(self.create_subscription(GroundTruthFaceArray, "/ground_truth/faces", self._on_truth, RELIABLE))
        return TransitionCallbackReturn.SUCCESS

    def _verified_done(self) -> set[int]:
        done = set()
        for ep, path in complete_episodes(self.output).items():
            if ep not in self.wanted:
                continue
            try:
                summary = read_summary(path)
            except EpisodeError as exc:
                self.get_logger().warning(f"{exc}; recording it again")
                path.unlink()
                continue
            if summary["n_frames"] != self.assembler.episode_frames:
                self.get_logger().warning(
                    f"{path.name} has {summary['n_frames']} frames, this run records "
                    f"{self.assembler.episode_frames}; keeping it, not re-recording"
                )
            done.add(ep)
        return done

    def _recording_tape(self) -> EpisodeTape:
        self.recording_topics = dict(COLLECTION_TOPICS)
        if self.assembler.record_applied:  # DAgger: the label is the oracle's answer, beside what was applied
            self.recording_topics[self.param("command_topic")] = COLLECTION_TOPICS[APPLIED_TOPIC]
        for ep in self.wanted:  # bags a killed writer left half-written
            shutil.rmtree(staging_folder(episode_recording(self.output, ep)), ignore_errors=True)
        return EpisodeTape(set(self.recording_topics) - {"/episode/info"})

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: the episode in progress is dropped (it is recorded again next time)."""
        self.pause_episodes()
        return super().on_deactivate(state)

    def release(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)  # never leave a half-written episode behind
            self._writer = None
        super().release()

    # -- the episode loop's hooks ------------------------------------------------------
    def before_tick(self) -> bool:
        return self._writes_ok()

    def reset_request(self, episode: int) -> ResetEpisode.Request:
        return ResetEpisode.Request(seed=self.base_seed + episode - self.base_ep, episode_index=episode)

    def listen(self, episode: int) -> None:
        self._episode_started = time.monotonic()
        self.assembler.start(episode, {})
        self._recorded = 0
        if self._tape is not None:
            self._tape.start()

    def episode_started(self, episode: int, response: ResetEpisode.Response) -> None:
        info = json.loads(response.info.scenario_json)
        info.update(
            episode_index=episode,
            seed=response.info.seed,
            command=response.info.command,
            label_key=response.info.label_key,
            collection=self.settings,
            robot=robot_from_msg(response.info.robot).values(),
        )  # the values it was collected under
        self.assembler.info = info
        self._episode_info = serialize_message(response.info)

    def stall_detail(self) -> str:
        return self.assembler.first_gap()

    def episode_lost(self, episode: int, why: str) -> None:
        self.skip_episode(why)
        self._publish_progress(f"skipped episode {episode}: {why}", 0.0)

    def all_episodes_done(self) -> None:
        wait(self._pending)  # every write has ended, so none fails after "finished"
        if not self._writes_ok():
            return
        self.finished = True
        if self.get_parameter("write_index").value:
            finalize_dataset(self.output, self.settings)
        skipped = self.driver.given_up
        self.get_logger().info(
            f"collection finished: {len(self._done_now())} episodes in {self.output}"
            + (f", {len(skipped)} skipped" if skipped else "")
        )
        self._publish_progress("finished", 0.0)

    # -- frames ----------------------------------------------------------------------------
    def _feed(self, stream: str, stamp, value) -> None:
        if not self.driver.playing:
            return
        self.assembler.add(stream, nanoseconds(stamp), value)
        recorded = self.assembler.recorded
        if recorded > self._recorded:
            self._recorded = recorded
            self.driver.progressed()
        if self.driver.phase == Phase.RUNNING and self.assembler.complete:
            episode = self.assembler.episode()
            elapsed = time.monotonic() - self._episode_started
            if self._tape is not None:  # before the episode file: a kill between the two records both again
                self._pending.append(self._writer.submit(write_recording, *self._recording(episode.index)))
            level = int(self.get_parameter("compression_level").value)
            self._pending.append(self._writer.submit(write_episode, self.output, episode, level))
            self.driver.finish_episode()
            self._publish_progress(
                f"episode {episode.index} recorded ({episode.label_key})", len(episode.frames) / max(elapsed, 1e-6)
            )
            self.next_episode()

    def _recording(self, episode: int) -> tuple:
        """write_recording's arguments for the finished episode: its recorded frames' messages."""
        stamps = self.assembler.stamps_wanted
        messages = self._tape.take(stamps) + [("/episode/info", stamps[0], self._episode_info)]
        return episode_recording(self.output, episode), self.recording_topics, messages

    def _record(self, topic: str, msg) -> None:
        if self._tape is not None and self.driver.playing:
            self._tape.add(topic, nanoseconds(msg.header.stamp), serialize_message(msg))

    def _on_image(self, msg: Image) -> None:
        self.ack_frame(msg.header.stamp)  # every frame, so a lockstep sim never waits on an idle collector
        if self.driver.playing:
            try:
                rgb = image_to_rgb(msg)
                frame = to_policy_frame(rgb)
            except ValueError as exc:
                self.get_logger().warning(f"unusable image: {exc}", throttle_duration_sec=5.0)
                return
            if self._tape is not None:
                self._record("/camera/image_raw/compressed", jpeg_message(msg, rgb))
            self._feed("image", msg.header.stamp, frame)

    def _on_command(self, msg: TwistStamped) -> None:
        self._record(self.param("command_topic"), msg)
        self._feed("command", msg.header.stamp, (msg.twist.angular.z, msg.twist.angular.y))

    def _on_applied(self, msg: TwistStamped) -> None:
        self._record(APPLIED_TOPIC, msg)
        self._feed("applied", msg.header.stamp, (msg.twist.angular.z, msg.twist.angular.y))

    def _on_truth(self, msg: GroundTruthFaceArray) -> None:
        self._record("/ground_truth/faces", msg)
        if 0 <= msg.target_index < len(msg.faces):
            face = msg.faces[msg.target_index]
            u, v = (face.pixel_u, face.pixel_v) if face.visible else (math.nan, math.nan)
            self._feed(
                "truth",
                msg.header.stamp,
                (math.hypot(u - CAMERA_PX[0] / 2, v - CAMERA_PX[1] / 2), face.perturbed, u, v),
            )

    # -- writes and progress -------------------------------------------------------------------
    def _writes_ok(self) -> bool:
        """False, and the collection stopped, once a write has failed (e.g. no space left on the device)."""
        if self.driver.phase == Phase.STOPPED:
            return False
        for future in [f for f in self._pending if f.done()]:
            self._pending.remove(future)
            if future.exception() is not None:
                self._stop_collecting(future.exception())
                return False
        return True

    def _stop_collecting(self, exc: BaseException) -> None:
        self.driver.stop()
        done = len(self._done_now())
        why = " ".join(str(exc).split())  # HDF5's messages span lines; the log line must stay whole
        if "No space left on device" in why or getattr(exc, "errno", None) == errno.ENOSPC:
            why = "no space left on the device"
        message = (
            f"collection stopped: writing an episode failed ({why[:300]}); {done} complete episodes in "
            f"{self.output}, no partial one. Free space and run the same command again to resume"
        )
        self.get_logger().error(message)
        self._publish_progress(message, 0.0)

    def _done_now(self) -> list[int]:
        return [ep for ep in complete_episodes(self.output) if ep in self.wanted]

    def _publish_progress(self, message: str, fps: float) -> None:
        msg = CollectionProgress(
            # over the whole range: episodes already there when the collection started count as done
            episodes_done=len(self.wanted) - len(self.driver.todo) - len(self.driver.given_up),
            episodes_total=len(self.wanted),
            episodes_skipped=len(self.driver.given_up),
            frames_per_second=float(fps),
            finished=self.finished,
            stopped=self.driver.phase == Phase.STOPPED,
            last_message=message,
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pubs["progress"].publish(msg)


def main(args=None) -> int:
    return run_node(CollectorNode, args)
