"""Episode recordings: rosbag2 folders (metadata.yaml + one .mcap file) that Foxglove opens and
`ros2 bag info` / `ros2 bag play` read on a full ROS 2 install.

Messages come in already serialized (CDR, as the node received or built them); this module only places them
in the bag, through the `rosbags` library's writer with MCAP storage. ROS 2's own types come from its Kilted
type store; Ocelot's from the `.msg` files of the `ocelot_msgs` package (installed, or the source tree's), so
every topic carries its full message definition and a reader needs nothing of Ocelot.

Time: a bag's log time runs on across episodes (each episode's frames at their sim-time stamps, the next
episode a second after the last frame of the one before), while every message keeps its own header stamp,
which restarts at 0 with each episode as the sim's clock does. Nothing depends on the wall clock, so a
lockstep evaluation writes the same recording every time (the policy's measured latency aside).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from ocelot_common.config_files import installed_share_file

EPISODE_GAP_NS = 1_000_000_000  # log time between one episode's last frame and the next one's first
SOURCE_MSG_DIR = Path(__file__).resolve().parents[2] / "ocelot_msgs" / "msg"

# topic -> type of what an evaluation records, per frame unless noted
EVALUATION_TOPICS = {
    "/episode/info": "ocelot_msgs/msg/EpisodeInfo",  # once per episode, at its first frame
    "/camera/image_raw/compressed": "sensor_msgs/msg/CompressedImage",  # JPEG of the 640x480 camera image
    "/ground_truth/faces": "ocelot_msgs/msg/GroundTruthFaceArray",
    "/cmd_vel_applied": "geometry_msgs/msg/TwistStamped",  # the command the sim applied on this frame
    "/vla/status": "ocelot_msgs/msg/PolicyStatus",  # a policy's latency and its target estimate
    "/evaluator/tracking": "ocelot_msgs/msg/TrackingMetrics",
    "/evaluator/episode": "ocelot_msgs/msg/EpisodeMetrics",  # once per episode, at its last frame
}


# topic -> type of what a collection records (`ocelot collect --record`: one bag per episode), per recorded frame
# unless noted; the label is the oracle's command (/cmd_vel_applied when the oracle steers, /oracle/cmd_vel_stamped
# in DAgger, where the policy's own command is /cmd_vel_applied)
COLLECTION_TOPICS = {
    "/episode/info": "ocelot_msgs/msg/EpisodeInfo",  # once, at the first recorded frame
    "/camera/image_raw/compressed": "sensor_msgs/msg/CompressedImage",
    "/ground_truth/faces": "ocelot_msgs/msg/GroundTruthFaceArray",
    "/cmd_vel_applied": "geometry_msgs/msg/TwistStamped",
}
RECORDINGS_DIR = "recordings"  # under a dataset folder: ep_NNNNNN/ per episode
PARTIAL_DIR = ".partial"  # where an episode's bag is written before it is renamed into place


def episode_recording(root: Path, episode: int) -> Path:
    return Path(root) / RECORDINGS_DIR / f"ep_{episode:06d}"


def staging_folder(folder: Path) -> Path:
    """Where an episode's bag is written before it is renamed into `folder` (under .partial/ beside it)."""
    return Path(folder).parent / PARTIAL_DIR / Path(folder).name


def write_recording(folder: Path, topics: dict[str, str], messages: list[tuple[str, int, bytes]]) -> Path:
    """One episode's bag, whole or not at all: written under .partial/ beside its place and renamed into it
    (a killed write leaves only .partial/, which the next write of that episode replaces)."""

    def write(staged: Path) -> None:
        with EpisodeBag(staged, topics) as bag:  # metadata.yaml is written on closing
            bag.write_episode(messages)

    return _place_whole(folder, write)


def place_recording(folder: Path, parts: dict[str, bytes]) -> Path:
    """A bag made elsewhere (its files' bytes), placed as `write_recording` places one."""

    def write(staged: Path) -> None:
        staged.mkdir()
        for name, data in parts.items():
            (staged / name).write_bytes(data)

    return _place_whole(folder, write)


def _place_whole(folder: Path, write: Callable[[Path], None]) -> Path:
    folder, staged = Path(folder), staging_folder(folder)
    shutil.rmtree(staged, ignore_errors=True)
    staged.parent.mkdir(parents=True, exist_ok=True)
    write(staged)
    shutil.rmtree(folder, ignore_errors=True)
    staged.rename(folder)
    return folder


class EpisodeTape:
    """One episode's messages, held until the episode is scored, then taken for the frames it scored.

    The rules of the evaluator's own streams (ocelot_eval.episode_recorder) hold here too: the sim's clock
    restarts at 0 with each episode, so a per-frame topic counts only from its frame-0 message on, and a
    late message of the previous episode, which has a stamp the new episode will also have, is never taken
    for the new one's. Other topics (an episode's info) are taken as they come.
    """

    def __init__(self, per_frame_topics: Iterable[str]) -> None:
        self.per_frame = set(per_frame_topics)
        self.start()

    def start(self) -> None:
        self._messages: dict[tuple[str, int], bytes] = {}  # (topic, stamp) -> the first such message
        self._synced: set[str] = set()

    def add(self, topic: str, stamp_ns: int, data: bytes) -> None:
        if stamp_ns == 0:
            self._synced.add(topic)
        if topic not in self.per_frame or topic in self._synced:
            self._messages.setdefault((topic, stamp_ns), data)

    def missing(self, stamps: Iterable[int]) -> list[str]:
        """Per-frame topics that have begun this episode and still lack a message for one of its frames."""
        wanted = set(stamps)
        return sorted(t for t in self._synced & self.per_frame if any((t, s) not in self._messages for s in wanted))

    def take(self, stamps: Iterable[int]) -> list[tuple[str, int, bytes]]:
        """The messages of these frames (topic, stamp, data); the tape starts afresh."""
        wanted = set(stamps)
        taken = [(topic, stamp, data) for (topic, stamp), data in self._messages.items() if stamp in wanted]
        self.start()
        return taken


class RecordingError(RuntimeError):
    """The recording cannot be written (a folder in the way, an unknown message type)."""


def ocelot_typestore() -> Typestore:
    """ROS 2 Kilted's message types plus Ocelot's own, from their .msg files."""
    store = get_typestore(Stores.ROS2_KILTED)
    installed = installed_share_file("ocelot_msgs", "msg/PolicyStatus.msg")
    msg_dir = installed.parent if installed is not None else SOURCE_MSG_DIR
    types: dict = {}
    for path in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"ocelot_msgs/msg/{path.stem}"))
    if not types:
        raise RecordingError(f"no ocelot_msgs .msg files in {msg_dir}: build the workspace (make setup)")
    store.register(types)
    return store


class EpisodeBag:
    """One rosbag2 folder; episodes are appended one after another."""

    def __init__(self, folder: Path, topics: dict[str, str]) -> None:
        folder = Path(folder)
        if folder.exists():
            raise RecordingError(f"{folder} exists: a recording is never written over; remove it first")
        store = ocelot_typestore()
        self.folder, self._store, self._types = folder, store, dict(topics)
        self._writer = Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        try:
            self._connections = {
                topic: self._writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype in topics.items()
            }
        except Exception as exc:
            self._writer.close()
            raise RecordingError(f"cannot record {topics}: {exc}") from exc
        self._offset_ns = 0
        self.episodes = 0

    def write_episode(self, messages: Iterable[tuple[str, int, bytes]]) -> int:
        """Append one episode: (topic, header stamp in ns, CDR bytes), written in stamp order, and the messages
        of one stamp in the order of the recording's topics (not of their arrival, which varies from run to run:
        the same episode makes the same file). Returns how many messages were written."""
        for topic, _, _ in messages:
            if topic not in self._connections:
                raise RecordingError(f"topic {topic} is not one this recording was opened with")
        rank = {topic: i for i, topic in enumerate(self._connections)}
        ordered = sorted(messages, key=lambda m: (m[1], rank[m[0]]))
        for topic, stamp_ns, data in ordered:
            self._writer.write(self._connections[topic], self._offset_ns + stamp_ns, self._canonical(topic, data))
        if ordered:
            self._offset_ns += ordered[-1][1] + EPISODE_GAP_NS
        self.episodes += 1
        return len(ordered)

    def _canonical(self, topic: str, data: bytes) -> bytes:
        """The message serialized again by rosbags, which zero-fills CDR's alignment padding (rclpy's serializer
        leaves whatever was in memory there): equal messages make equal bytes."""
        msgtype = self._types[topic]
        return bytes(self._store.serialize_cdr(self._store.deserialize_cdr(data, msgtype), msgtype))

    def close(self) -> None:
        """Finish the MCAP file and write metadata.yaml (the folder is a valid bag only after this)."""
        self._writer.close()

    def __enter__(self) -> EpisodeBag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
