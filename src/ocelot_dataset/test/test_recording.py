"""Recordings (ocelot_dataset.recording): the episode tape's rules and the rosbag2/MCAP writer, read back with
the rosbags library."""

import pytest
from rosbags.rosbag2 import Reader

from ocelot_dataset.recording import EVALUATION_TOPICS, EpisodeBag, EpisodeTape, RecordingError, ocelot_typestore

STORE = ocelot_typestore()
MS = 1_000_000


def status(stamp_ns: int, latency_ms: float) -> bytes:
    """A PolicyStatus as CDR, made by rosbags' own serializer (no rclpy needed)."""
    Time = STORE.types["builtin_interfaces/msg/Time"]
    Header = STORE.types["std_msgs/msg/Header"]
    Status = STORE.types["ocelot_msgs/msg/PolicyStatus"]
    header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id="")
    msg = Status(header, latency_ms, 1.0, 0.1, 0.0, 0.1, 0.0, False, False, True, 320.0, 240.0, 5.0, 100.0, False)
    return bytes(STORE.serialize_cdr(msg, "ocelot_msgs/msg/PolicyStatus"))


def test_ocelots_own_types_are_known_with_their_definitions():
    for msgtype in EVALUATION_TOPICS.values():
        assert msgtype in STORE.types, msgtype
    assert "target_u" in STORE.generate_msgdef("ocelot_msgs/msg/PolicyStatus")[0]


def test_a_topic_counts_from_its_frame_0_message_so_a_late_one_of_the_last_episode_is_left_out():
    tape = EpisodeTape({"/s"})
    tape.add("/s", 200 * MS, b"late, previous episode")  # the new episode has a frame at 0.2 s too
    tape.add("/info", 0, b"info")  # not per frame: taken as it comes
    assert tape.missing([0, 100 * MS]) == []  # /s has not begun: nothing is waited for
    tape.add("/s", 0, b"frame 0")
    tape.add("/s", 0, b"frame 0 again")  # a duplicate keeps the first
    assert tape.missing([0, 100 * MS]) == ["/s"]
    tape.add("/s", 100 * MS, b"frame 1")
    tape.add("/s", 300 * MS, b"past the episode's end")
    assert tape.missing([0, 100 * MS]) == []
    taken = sorted(tape.take([0, 100 * MS, 200 * MS]))
    assert taken == [("/info", 0, b"info"), ("/s", 0, b"frame 0"), ("/s", 100 * MS, b"frame 1")]
    assert tape.take([0]) == []  # taking starts it afresh


def test_episodes_follow_each_other_in_log_time_and_keep_their_own_stamps(tmp_path):
    folder = tmp_path / "rec"
    with EpisodeBag(folder, {"/vla/status": "ocelot_msgs/msg/PolicyStatus"}) as bag:
        for episode in range(2):
            written = bag.write_episode(
                [("/vla/status", t * 100 * MS, status(t * 100 * MS, episode)) for t in (2, 0, 1)]
            )
            assert written == 3
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.yaml", "rec.mcap"]
    with Reader(folder) as reader:
        assert reader.message_count == 6
        rows = [(t, STORE.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages()]
    log_times = [t for t, _ in rows]
    assert log_times == sorted(log_times) and len(set(log_times)) == 6  # the second episode after the first
    stamps = [m.header.stamp.nanosec // MS for _, m in rows]
    assert stamps == [0, 100, 200, 0, 100, 200]  # each episode's own stamps, written in order
    assert [m.latency_ms for _, m in rows] == [0, 0, 0, 1, 1, 1]
    assert log_times[3] - log_times[2] == 10**9 + 0  # one second after the last frame of the one before


def test_messages_of_one_stamp_follow_the_recordings_topic_order_whatever_order_they_came_in(tmp_path):
    topics = {"/b": "ocelot_msgs/msg/PolicyStatus", "/a": "ocelot_msgs/msg/PolicyStatus"}
    messages = [("/a", 0, status(0, 1.0)), ("/b", 0, status(0, 2.0)), ("/a", 100 * MS, status(100 * MS, 3.0))]
    for run, order in (("one", messages), ("two", messages[::-1])):
        with EpisodeBag(tmp_path / run / "rec", topics) as bag:  # a bag's name is inside its file
            bag.write_episode(order)
    assert (tmp_path / "one" / "rec" / "rec.mcap").read_bytes() == (tmp_path / "two" / "rec" / "rec.mcap").read_bytes()
    with Reader(tmp_path / "one" / "rec") as reader:
        assert [c.topic for c, _, _ in reader.messages()] == ["/b", "/a", "/a"]


def test_a_recording_is_never_written_over_and_unknown_topics_or_types_are_refused(tmp_path):
    (tmp_path / "rec").mkdir()
    with pytest.raises(RecordingError, match="never written over"):
        EpisodeBag(tmp_path / "rec", EVALUATION_TOPICS)
    with pytest.raises(RecordingError, match="cannot record"):
        EpisodeBag(tmp_path / "other", {"/x": "ocelot_msgs/msg/NoSuchMessage"})
    with EpisodeBag(tmp_path / "third", {"/vla/status": "ocelot_msgs/msg/PolicyStatus"}) as bag:
        with pytest.raises(RecordingError, match="/elsewhere is not one"):
            bag.write_episode([("/elsewhere", 0, status(0, 1.0))])
