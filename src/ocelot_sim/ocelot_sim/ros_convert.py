"""Scenario and simulator state -> ROS messages (shared by the sim node and its tests)."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion
from sensor_msgs.msg import Image, JointState

from ocelot_msgs.msg import Command, EpisodeInfo, FaceAttributes, GroundTruthFace, GroundTruthFaceArray
from ocelot_msgs.msg import RobotProfile as RobotProfileMsg
from ocelot_sim.rig import FaceState
from ocelot_sim.robot_profile import RobotProfile
from ocelot_sim.scenario import Scenario


def stamp(seconds: float) -> Time:
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def image_msg(rgb: np.ndarray, t: float, frame_id: str = "camera") -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0, step=rgb.shape[1] * 3)
    msg.header.stamp, msg.header.frame_id = stamp(t), frame_id
    msg.data = rgb.tobytes()
    return msg


def joint_state_msg(positions, velocities, t: float) -> JointState:
    msg = JointState(
        name=["pan", "tilt"], position=[float(x) for x in positions], velocity=[float(x) for x in velocities]
    )
    msg.header.stamp = stamp(t)
    return msg


def faces_msg(scenario: Scenario, states: list[FaceState], t: float) -> GroundTruthFaceArray:
    msg = GroundTruthFaceArray(target_index=scenario.target)
    msg.header.stamp, msg.header.frame_id = stamp(t), "world"
    for spec, s in zip(scenario.faces, states):
        a = spec.attributes
        w, x, y, z = s.quaternion
        msg.faces.append(
            GroundTruthFace(
                id=s.index,
                texture=s.texture,
                attributes=FaceAttributes(
                    hair_colour=a.hair_colour,
                    skin_tone=a.skin_tone,
                    shirt_colour=a.shirt_colour,
                    glasses=a.glasses,
                    hat=a.hat,
                ),
                pose=Pose(
                    position=Point(x=s.position[0], y=s.position[1], z=s.position[2]),
                    orientation=Quaternion(w=w, x=x, y=y, z=z),
                ),
                distance_m=s.distance_m,
                pixel_u=s.pixel[0],
                pixel_v=s.pixel[1],
                visible=s.visible,
                perturbed=s.perturbed,
                azimuth=s.angles[0],
                elevation=s.angles[1],
                azimuth_rate=s.rates[0],
                elevation_rate=s.rates[1],
            )
        )
    return msg


def command_msg(scenario: Scenario, t: float) -> Command:
    msg = Command(label_key=scenario.label_key, command=scenario.command, target_face_id=scenario.target)
    msg.header.stamp = stamp(t)
    return msg


def robot_msg(profile: RobotProfile) -> RobotProfileMsg:
    return RobotProfileMsg(
        name=profile.name,
        command_latency_s=profile.command_latency_s,
        time_constant_s=list(profile.time_constant_s),
        accel_limit_rad_s2=list(profile.accel_limit_rad_s2),
        exposure_s=profile.exposure_s,
    )


def robot_from_msg(msg: RobotProfileMsg) -> RobotProfile:
    return RobotProfile(
        msg.name,
        float(msg.command_latency_s),
        tuple(float(x) for x in msg.time_constant_s),
        tuple(float(x) for x in msg.accel_limit_rad_s2),
        float(msg.exposure_s),
    )


def episode_info_msg(
    scenario: Scenario, episode_index: int, t: float, robot: RobotProfile = RobotProfile()
) -> EpisodeInfo:
    import json

    msg = EpisodeInfo(
        episode_index=episode_index,
        seed=scenario.seed,
        label_key=scenario.label_key,
        command=scenario.command,
        target_face_id=scenario.target,
        num_faces=len(scenario.faces),
        scenario_json=json.dumps({"scenario_id": scenario.scenario_id, **scenario.to_dict()}),
        robot=robot_msg(robot),
    )
    msg.header.stamp = stamp(t)
    return msg
