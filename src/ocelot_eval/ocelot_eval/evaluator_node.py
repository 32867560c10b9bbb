"""Evaluator lifecycle node: runs a scenario set through the sim and scores every camera frame with Haar.

For episode i of `scenario_file` it calls /sim/reset (the sim plays entry i),
scores frames 0 .. episode_frames-1 (OpenCV's Haar cascade on the 640x480
image, paired with the ground truth of the same frame), publishes
~/tracking (ocelot_msgs/TrackingMetrics, per frame, stamped with the frame) and ~/episode
(ocelot_msgs/EpisodeMetrics), and appends the episode to
`output`/episodes.jsonl. Each frame is acknowledged on ~/frame_ack, so a
lockstep sim never runs more than a few frames ahead of the scoring. The
policy's ~/status gives each frame's latency and the policy's own estimate of
the target's image point, scored against the truth (grounding vs control). When all
episodes are done it says so on ~/progress (ocelot_msgs/EvaluationProgress,
latched: episodes done, finished, failed and why) and in the log ("evaluation
finished"); a reset or a camera that stalls ends it as failed (a gate never
rests on missing episodes). With `record`, each scored frame (its image as
JPEG, truth, applied command, the policy's status, its score) and each
episode's info and metrics go to a rosbag2 recording, `output`/recording
(MCAP; ocelot_dataset.recording). The scoring itself is ROS-free (ocelot_eval.metrics), and so are the
episode loop's rules (ocelot_common.episode_driver, shared with the collector).

- on_configure: read the scenario file, prepare the output. FAILURE on a bad
  parameter or scenario file (node alive, unconfigured).
- on_activate: episodes start as soon as /sim/reset is available.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from builtin_interfaces.msg import Time
from geometry_msgs.msg import TwistStamped
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image

from ocelot_common.episode_driver import Phase
from ocelot_common.episode_node import EpisodeNode
from ocelot_common.images import image_to_rgb, jpeg_message
from ocelot_common.lifecycle import run_node
from ocelot_common.parameters import not_blank, positive, refuse_bad_values
from ocelot_common.stamps import NS_PER_S, nanoseconds
from ocelot_dataset.recording import EpisodeTape, RecordingError
from ocelot_eval.episode_recorder import EpisodeRecorder
from ocelot_eval.metrics import EpisodeScore, TruthFace
from ocelot_msgs.msg import EpisodeMetrics, EvaluationProgress, GroundTruthFaceArray, PolicyStatus, TrackingMetrics
from ocelot_msgs.srv import ResetEpisode
from ocelot_sim.scenario import check_scenario_file

RECORDED = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
# how long a scored episode waits for the controller's statuses of its last frames (they follow the frames by
# milliseconds; a controller that skips frames never sends some, and the episode is written without them)
STATUS_GRACE_S = 1.0
# the last progress stays for whoever subscribes late (the CLI that started the graph)
LATCHED = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
EPISODES_FILE = "episodes.jsonl"
PARAMETERS = {
    "scenario_file": "",
    "output": "",
    "episode_frames": 100,
    "reset_timeout": 10.0,
    "stall_timeout": 10.0,
    "image_topic": "/camera/image_raw",
    "status_topic": "/vla/status",
    "record": False,
}


class EvaluatorNode(EpisodeNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("evaluator", **kwargs)
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        refuse_bad_values(
            self,
            {
                "episode_frames": positive,
                "reset_timeout": positive,
                "stall_timeout": positive,
                "output": not_blank,
                "image_topic": not_blank,
                "scenario_file": check_scenario_file,
            },
        )
        self.recorder: EpisodeRecorder | None = None
        self._scored_at: float | None = None  # when the running episode's frames were all scored
        self.bag = None  # the recording, with `record`
        self._tape: EpisodeTape | None = None  # the running episode's messages for it

    # -- lifecycle ---------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """unconfigured -> inactive; FAILURE on a bad parameter or scenario file."""
        from ocelot_sim.haar import detect_faces
        from ocelot_sim.scenario import ScenarioError, load_scenario_file

        p = self.param
        try:
            if not p("scenario_file") or not p("output"):
                raise ValueError("scenario_file and output must be set")
            self.entries = load_scenario_file(p("scenario_file"))
            self.recorder = EpisodeRecorder(int(p("episode_frames")), detect_faces)
            self.output = Path(p("output")).expanduser().resolve()
            self.output.mkdir(parents=True, exist_ok=True)
            (self.output / EPISODES_FILE).unlink(missing_ok=True)  # results of this run only
            if p("record"):
                self.bag = self._open_recording()
        except (ScenarioError, ValueError, OSError, RecordingError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.failed = False
        self.pubs = {
            "tracking": self.own(self.create_lifecycle_publisher(TrackingMetrics, "~/tracking", 100)),
            "episode": self.own(self.create_lifecycle_publisher(EpisodeMetrics, "~/episode", 10)),
            "progress": self.own(self.create_lifecycle_publisher(EvaluationProgress, "~/progress", LATCHED)),
        }
        self.start_episode_loop(range(len(self.entries)), float(p("reset_timeout")), float(p("stall_timeout")), 10)
        self.own(self.create_subscription(GroundTruthFaceArray, "/ground_truth/faces", self._on_truth, RECORDED))
        self.own(self.create_subscription(Image, p("image_topic"), self._on_image, RECORDED))
        self.own(self.create_subscription(PolicyStatus, p("status_topic"), self._on_status, RECORDED))
        if self.bag is not None:
            self.own(self.create_subscription(TwistStamped, "/cmd_vel_applied", self._on_applied, RECORDED))
        self.get_logger().info(
            f"configured: {len(self.entries)} scenarios from {p('scenario_file')}, "
            f"{self.recorder.episode_frames} frames each"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """inactive -> active: the episodes start (progress 0 of N)."""
        result = super().on_activate(state)
        self._publish_progress()
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """active -> inactive: the episode in progress is dropped."""
        self.pause_episodes()
        return super().on_deactivate(state)

    def release(self) -> None:
        self._close_recording()  # a failed evaluation's recording holds the episodes it finished
        super().release()

    # -- the recording ---------------------------------------------------------------
    def _open_recording(self):
        from ocelot_dataset.recording import EVALUATION_TOPICS, EpisodeBag
        from ocelot_eval.report import RECORDING_DIR

        folder = self.output / RECORDING_DIR
        shutil.rmtree(folder, ignore_errors=True)  # this run's recording only
        topics = dict(EVALUATION_TOPICS)
        topics[self.param("status_topic")] = topics.pop("/vla/status")
        self._tape = EpisodeTape(set(topics) - {"/episode/info", "/evaluator/episode"})
        return EpisodeBag(folder, topics)

    def _close_recording(self) -> None:
        if self.bag is not None:
            self.bag.close()
            self.get_logger().info(f"recording of {self.bag.episodes} episodes in {self.bag.folder}")
            self.bag = None

    def _tape_message(self, topic: str, stamp_ns: int, msg) -> None:
        if self._tape is not None and self.driver.playing:
            self._tape.add(topic, stamp_ns, serialize_message(msg))

    def _record_episode(self, stamps: list[int], metrics: EpisodeMetrics) -> None:
        """The messages of the episode's scored frames (not those of frames past its end) into the bag."""
        if self.bag is None or self._tape is None:
            return
        messages = self._tape.take(stamps)
        metrics.header.stamp = frame_time(stamps[-1])
        messages.append(("/evaluator/episode", stamps[-1], serialize_message(metrics)))
        self.bag.write_episode(messages)

    # -- the episode loop's hooks ------------------------------------------------------
    def before_tick(self) -> bool:
        if self.driver.phase == Phase.RUNNING and self._scored_at is not None:
            self._check_complete()  # the grace for missing statuses has run out
        return True

    def reset_request(self, episode: int) -> ResetEpisode.Request:
        return ResetEpisode.Request(seed=int(self.entries[episode]["seed"]), episode_index=episode)

    def listen(self, episode: int) -> None:
        self.recorder.start(EpisodeScore(episode, int(self.entries[episode]["seed"]), "", "", 0, []))
        if self._tape is not None:
            self._tape.start()

    def episode_started(self, episode: int, response: ResetEpisode.Response) -> None:
        scenario = json.loads(response.info.scenario_json)
        recorded = self.recorder.episode
        recorded.label_key, recorded.command = response.info.label_key, response.info.command
        recorded.num_faces = int(response.info.num_faces)
        recorded.textures = [face["texture"] for face in scenario.get("faces", [])]
        self._tape_message("/episode/info", 0, response.info)
        self._scored_at = None
        self._check_complete()

    def episode_lost(self, episode: int, why: str) -> None:
        self.driver.stop()
        self.failed = True
        why = f"episode {episode}: {why}"
        self.get_logger().error(f"evaluation failed: {why}")
        self._publish_progress(why)

    def all_episodes_done(self) -> None:
        self._close_recording()  # complete before anyone hears "finished"
        self.get_logger().info(f"evaluation finished: {len(self.entries)} episodes in {self.output / EPISODES_FILE}")
        self._publish_progress()

    def _publish_progress(self, reason: str = "") -> None:
        msg = EvaluationProgress(
            episodes_done=self.driver.done,
            episodes_total=self.driver.total,
            finished=self.driver.phase == Phase.FINISHED,
            failed=self.failed,
            reason=reason,
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pubs["progress"].publish(msg)

    # -- per frame -----------------------------------------------------------------
    def _on_truth(self, msg: GroundTruthFaceArray) -> None:
        if self.driver.playing:
            self._tape_message("/ground_truth/faces", nanoseconds(msg.header.stamp), msg)
            faces = [TruthFace(f.pixel_u, f.pixel_v, f.visible) for f in msg.faces]
            self._publish_scores(self.recorder.add_truth(nanoseconds(msg.header.stamp), faces, msg.target_index))

    def _on_image(self, msg: Image) -> None:
        if not self.active:
            return
        if self.driver.playing:
            try:
                rgb = image_to_rgb(msg)
            except ValueError as exc:
                self.get_logger().warning(f"unusable image: {exc}", throttle_duration_sec=5.0)
            else:
                if self.bag is not None:
                    self._tape_message(
                        "/camera/image_raw/compressed", nanoseconds(msg.header.stamp), jpeg_message(msg, rgb)
                    )
                self._publish_scores(self.recorder.add_image(nanoseconds(msg.header.stamp), rgb))
        self.ack_frame(msg.header.stamp)  # after scoring: the sim waits on it

    def _on_status(self, msg: PolicyStatus) -> None:
        if self.driver.playing:
            self._tape_message(self.param("status_topic"), nanoseconds(msg.header.stamp), msg)
            self.recorder.add_status(
                nanoseconds(msg.header.stamp),
                float(msg.latency_ms),
                (msg.target_u, msg.target_v) if msg.has_target else None,
            )
            self._check_complete()

    def _messages_missing(self) -> bool:
        if self.recorder.statuses_missing:
            return True
        return self._tape is not None and bool(self._tape.missing(self.recorder.frame_stamps))

    def _on_applied(self, msg: TwistStamped) -> None:
        self._tape_message("/cmd_vel_applied", nanoseconds(msg.header.stamp), msg)

    def _publish_scores(self, scores) -> None:
        if not scores:
            return
        self.driver.progressed()
        stamps = self.recorder.frame_stamps
        for s in scores:
            msg = TrackingMetrics(
                episode_index=self.recorder.episode.index,
                frame_index=s.frame,
                error_px=s.error_px,
                gt_error_px=s.gt_error_px,
                face_lost=s.face_lost,
                target_selected=s.target_selected,
                latency_ms=math.nan,
            )
            msg.header.stamp = frame_time(stamps[s.frame])  # the frame it scores
            self.pubs["tracking"].publish(msg)
            self._tape_message("/evaluator/tracking", stamps[s.frame], msg)
        self._check_complete()

    def _check_complete(self) -> None:
        if self.driver.phase != Phase.RUNNING or not self.recorder.complete:
            return
        if self._messages_missing():  # the last frames' statuses (and applied commands) come after their scoring
            self._scored_at = self._scored_at or time.monotonic()
            if time.monotonic() - self._scored_at < STATUS_GRACE_S:
                return
        self._scored_at = None
        stamps = self.recorder.frame_stamps
        episode = self.recorder.finish()
        with open(self.output / EPISODES_FILE, "a") as f:
            f.write(json.dumps(episode.to_dict()) + "\n")
        summary = episode.summary()
        msg = EpisodeMetrics(
            episode_index=episode.index,
            label_key=episode.label_key,
            num_frames=summary["num_frames"],
            response_frames=summary["response_frames"],
            mean_error_px=summary["mean_error_px"],
            p95_error_px=summary["p95_error_px"],
            face_lost_rate=summary["face_lost_rate"],
            target_selection_accuracy=summary["target_selection"],
        )
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pubs["episode"].publish(msg)
        self._record_episode(stamps, msg)
        self.get_logger().info(
            f"episode {episode.index} done ({episode.label_key}): "
            f"mean {summary['mean_error_px']:.1f} px, lost {summary['face_lost_rate']:.0%}"
        )
        self.driver.finish_episode()
        if self.driver.todo:
            self._publish_progress()
        self.next_episode()


def frame_time(stamp_ns: int) -> Time:
    return Time(sec=stamp_ns // NS_PER_S, nanosec=stamp_ns % NS_PER_S)


def main(args=None) -> int:
    return run_node(EvaluatorNode, args)
