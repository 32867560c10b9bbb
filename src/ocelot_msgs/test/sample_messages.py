"""One filled-in instance of every ocelot_msgs type, and a process that publishes them.

Run as a script: publishes each sample on /samples/<Type> until stopped, and
serves /samples/reset_episode (ResetEpisode) answering with the sample EpisodeInfo.
"""

import sys

from geometry_msgs.msg import Point, Pose, Quaternion

from ocelot_msgs.msg import (
    Command,
    EpisodeInfo,
    EpisodeMetrics,
    FaceAttributes,
    GraphHealth,
    GroundTruthFace,
    GroundTruthFaceArray,
    NodeHealth,
    TrackingMetrics,
)


def samples():
    attrs = FaceAttributes(hair_colour="red", skin_tone="dark", shirt_colour="blue", glasses=True, hat=False)
    face = GroundTruthFace(
        id=2,
        texture="procedural:17",
        attributes=attrs,
        pose=Pose(position=Point(x=2.0, y=-0.5, z=1.2), orientation=Quaternion(w=1.0)),
        distance_m=2.1,
        pixel_u=301.5,
        pixel_v=244.25,
        visible=True,
    )
    info = EpisodeInfo(
        episode_index=12,
        seed=-3,
        scenario_json='{"seed": -3}',
        label_key="multi_left",
        command="follow the person on the left",
        target_face_id=2,
        num_faces=3,
    )
    return {
        "Command": Command(label_key="multi_attr", command="track the person wearing glasses", target_face_id=1),
        "FaceAttributes": attrs,
        "GroundTruthFace": face,
        "GroundTruthFaceArray": GroundTruthFaceArray(faces=[face, face], target_index=1),
        "EpisodeInfo": info,
        "TrackingMetrics": TrackingMetrics(
            episode_index=4,
            frame_index=99,
            error_px=3.5,
            gt_error_px=2.75,
            face_lost=False,
            target_selected=True,
            latency_ms=12.5,
        ),
        "EpisodeMetrics": EpisodeMetrics(
            episode_index=4,
            label_key="track",
            num_frames=140,
            mean_error_px=1.5,
            p95_error_px=4.0,
            face_lost_rate=0.0625,
            response_frames=3,
            target_selection_accuracy=1.0,
        ),
        "NodeHealth": NodeHealth(name="sim", state="active", alive=True, seconds_since_seen=0.25),
        "GraphHealth": GraphHealth(
            graph="eval", all_active=False, nodes=[NodeHealth(name="vla", state="unreachable", alive=False)]
        ),
    }


def main() -> int:
    import rclpy
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile

    from ocelot_msgs.srv import ResetEpisode

    rclpy.init()
    node = rclpy.create_node("sample_publisher")
    latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    items = samples()
    publishers = {name: node.create_publisher(type(msg), f"/samples/{name}", latched) for name, msg in items.items()}
    for name, msg in items.items():
        publishers[name].publish(msg)

    def reset(request, response):
        response.success = request.seed >= 0
        response.message = "" if response.success else "seed must be >= 0"
        response.info = items["EpisodeInfo"]
        response.info.seed = request.seed
        return response

    node.create_service(ResetEpisode, "/samples/reset_episode", reset)
    print("publishing", flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
