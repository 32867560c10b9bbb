"""The simulated pan-tilt rig and its world, ROS-free: reset to a scenario, step, render, ground truth.

One `step` advances one camera period (0.1 s at 10 Hz) under a velocity
command; commands are clipped to the joint limit and non-finite ones become 0,
so no input can break the physics. The robot profile of the episode decides how
a command reaches the joints (latency, lag, acceleration limit: ocelot_sim.actuation)
and how much the frame smears while the camera turns (ocelot_sim.exposure); the
`ideal` profile applies each command at once for the whole period. Frames and
ground truth are a pure function of the scenario, the perturbation settings, the
profile and the commands: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ocelot_common.camera import CAMERA_HZ, CAMERA_PX, HFOV_DEG
from ocelot_sim.actuation import STEP_S, Actuation
from ocelot_sim.exposure import blur_extent_px, motion_blur
from ocelot_sim.faces import load_texture
from ocelot_sim.motion import angles_at, rates_at
from ocelot_sim.paths import WORLD_FILE, worlds_dir
from ocelot_sim.perturbation import Perturbation, active_jump, jump_offset
from ocelot_sim.robot_profile import RobotProfile
from ocelot_sim.scenario import BILLBOARD_HALF_M, Scenario

WIDTH, HEIGHT = CAMERA_PX
MAX_VELOCITY = 1.0
FACE_SLOTS = 3
PARKED = np.array([0.0, 0.0, -50.0])
NOISE_SLACK = 65536  # frames read the episode's noise bank from offsets within this


@dataclass(frozen=True)
class FaceState:
    index: int
    texture: str
    position: tuple[float, float, float]  # face centre, world frame (m)
    quaternion: tuple[float, float, float, float]  # w, x, y, z
    distance_m: float
    pixel: tuple[float, float]  # projected target point (u right, v down)
    visible: bool
    perturbed: bool
    angles: tuple[float, float]  # (azimuth, elevation) from the camera pivot, rad; + left / up
    rates: tuple[float, float]  # their time derivatives, rad/s (0 while a jump holds)


def sanitise_velocity(value: float) -> float:
    """Clip to the joint limit; NaN and inf become 0."""
    value = float(value)
    if not math.isfinite(value):
        return 0.0
    return max(-MAX_VELOCITY, min(MAX_VELOCITY, value))


def _yaw_pitch_quat(yaw: float, pitch: float) -> np.ndarray:
    """Rotation about z by yaw, then about the new -y by pitch (positive looks up); (w, x, y, z)."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(-pitch / 2), math.sin(-pitch / 2)
    return np.array([cy * cp, -sy * sp, cy * sp, sy * cp])


class PanTiltSim:
    def __init__(self, camera_hz: float = CAMERA_HZ, render: bool = True, width: int = WIDTH, height: int = HEIGHT):
        import mujoco

        self._mj = mujoco
        self.model = mujoco.MjModel.from_xml_path(str(worlds_dir() / WORLD_FILE))
        self.data = mujoco.MjData(self.model)
        self.period = 1.0 / camera_hz
        if abs(self.model.opt.timestep - STEP_S) > 1e-12:
            raise ValueError(
                f"{WORLD_FILE} has timestep {self.model.opt.timestep}; the actuation model steps "
                f"at {STEP_S} s (ocelot_sim.actuation.STEP_S): change both together"
            )
        self.substeps = max(1, round(self.period / self.model.opt.timestep))
        self.width, self.height = width, height
        self.focal_px = (width / 2) / math.tan(math.radians(HFOV_DEG / 2))
        self.renderer = mujoco.Renderer(self.model, height, width) if render else None
        name = lambda kind, n: mujoco.mj_name2id(self.model, kind, n)  # noqa: E731
        self._cam = name(mujoco.mjtObj.mjOBJ_CAMERA, "camera")
        self._joint_qpos = [self.model.jnt_qposadr[name(mujoco.mjtObj.mjOBJ_JOINT, j)] for j in ("pan", "tilt")]
        self._joint_qvel = [self.model.jnt_dofadr[name(mujoco.mjtObj.mjOBJ_JOINT, j)] for j in ("pan", "tilt")]
        self._mocap = [self.model.body_mocapid[name(mujoco.mjtObj.mjOBJ_BODY, f"face{i}")] for i in range(FACE_SLOTS)]
        self._face_tex = [name(mujoco.mjtObj.mjOBJ_TEXTURE, f"face{i}_tex") for i in range(FACE_SLOTS)]
        self._wall_tex = name(mujoco.mjtObj.mjOBJ_TEXTURE, "wall_tex")
        self._floor_tex = name(mujoco.mjtObj.mjOBJ_TEXTURE, "floor_tex")
        self._camera_height = float(self.model.body_pos[name(mujoco.mjtObj.mjOBJ_BODY, "pan_link")][2])
        self._light_base = self.model.light_diffuse.copy()
        self.scenario: Scenario | None = None
        self.perturbation = Perturbation()
        self.robot = RobotProfile()
        self.actuation = Actuation(self.robot)
        self.frame = 0
        self._held: dict[int, tuple[float, float]] = {}
        self._noise = None

    # -- episode ---------------------------------------------------------------
    def reset(
        self, scenario: Scenario, perturbation: Perturbation = Perturbation(), robot: RobotProfile | None = None
    ) -> None:
        """Start an episode at rest (no command in flight); `robot`: its profile (None: keep the last one)."""
        if len(scenario.faces) > FACE_SLOTS:
            raise ValueError(f"the world has {FACE_SLOTS} face slots; the scenario has {len(scenario.faces)} faces")
        mj = self._mj
        mj.mj_resetData(self.model, self.data)
        self.scenario, self.perturbation, self.frame = scenario, perturbation, 0
        self._held = {}  # a jump of the episode before holds nothing here (it once held this one's first jump)
        self.robot = self.robot if robot is None else robot
        self.actuation = Actuation(self.robot)
        for i, face in enumerate(scenario.faces):
            self._set_texture(self._face_tex[i], load_texture(face.texture).image)
        self._set_texture(self._wall_tex, self._wall_image(scenario))
        floor = np.empty((16, 16, 3), np.uint8)
        floor[:] = (np.array(scenario.floor_colour) * 255).astype(np.uint8)
        self._set_texture(self._floor_tex, floor)
        self.model.light_diffuse[:] = self._light_base * (scenario.light_intensity / 0.6)
        self._place_faces()
        mj.mj_forward(self.model, self.data)

    @staticmethod
    def _wall_image(scenario: Scenario) -> np.ndarray:
        """A smooth vertical gradient between two colours: low frequency keeps Haar fast and honest."""
        a, b = (np.array(c) for c in scenario.wall_colours)
        t = np.linspace(0.0, 1.0, 64)[:, None, None]
        return np.broadcast_to((a * (1 - t) + b * t) * 255, (64, 64, 3)).astype(np.uint8)

    def _set_texture(self, tex_id: int, image: np.ndarray) -> None:
        m = self.model
        h, w = m.tex_height[tex_id], m.tex_width[tex_id]
        if image.shape[:2] != (h, w):
            import cv2

            image = cv2.resize(image, (int(w), int(h)), interpolation=cv2.INTER_AREA)
        adr = m.tex_adr[tex_id]
        m.tex_data[adr : adr + h * w * 3] = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1)
        if self.renderer is not None:
            # The renderer keeps textures on the GPU; push the new pixels there.
            self._mj.mjr_uploadTexture(m, self.renderer._mjr_context, tex_id)

    def face_angles(self, i: int) -> tuple[tuple[float, float], bool]:
        """(azimuth, elevation) of face i at the current frame, and whether a jump holds it."""
        face = self.scenario.faces[i]
        angles = angles_at(face.motion, self.time)
        if i != self.scenario.target:
            return angles, False
        k = active_jump(self.perturbation, self.frame)
        if k is None:
            return angles, False
        if k not in self._held:  # the jump starts: hold the place the face jumped to
            self._held = {k: angles}
        d_az, d_el = jump_offset(self.perturbation, self.scenario.seed, k)
        base = self._held[k]
        return (base[0] + d_az, base[1] + d_el), True

    def _place_faces(self) -> None:
        d = self.data
        for i in range(FACE_SLOTS):
            mocap = self._mocap[i]
            if i >= len(self.scenario.faces):
                d.mocap_pos[mocap] = PARKED
                continue
            (az, el), _ = self.face_angles(i)
            r = self.scenario.faces[i].distance_m
            d.mocap_pos[mocap] = [
                r * math.cos(el) * math.cos(az),
                r * math.cos(el) * math.sin(az),
                self._camera_height + r * math.sin(el),
            ]
            d.mocap_quat[mocap] = _yaw_pitch_quat(az, el)

    def step(self, pan_vel: float, tilt_vel: float) -> None:
        """Advance one camera period under the (sanitised) velocity command answering the current frame."""
        command = [sanitise_velocity(pan_vel), sanitise_velocity(tilt_vel)]
        self.frame += 1
        self._place_faces()
        if self.robot.instant_actuators:
            self.data.ctrl[:2] = command
            self._mj.mj_step(self.model, self.data, nstep=self.substeps)
            return
        self.actuation.command(*command)
        for _ in range(self.substeps):
            self.data.ctrl[:2] = self.actuation.step()
            self._mj.mj_step(self.model, self.data)

    # -- observations ------------------------------------------------------------
    @property
    def time(self) -> float:
        return self.frame * self.period

    def joints(self) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        return d.qpos[self._joint_qpos].copy(), d.qvel[self._joint_qvel].copy()

    def render(self) -> np.ndarray:
        """The camera image (H, W, 3) uint8 RGB with the scenario's noise and brightness offset."""
        if self.renderer is None:
            raise RuntimeError("this PanTiltSim was made with render=False")
        self.renderer.update_scene(self.data, camera=self._cam)
        return self._camera_effects(self.renderer.render())

    def _camera_effects(self, image: np.ndarray) -> np.ndarray:
        """Motion blur over the exposure (optics, before the sensor), then additive noise and brightness
        with saturating uint8 arithmetic (a few ms, not tens)."""
        import cv2

        s = self.scenario
        if self.robot.exposure_s > 0:
            _, rates = self.joints()
            image = motion_blur(image, *blur_extent_px((rates[0], rates[1]), self.robot.exposure_s, self.focal_px))
        if s.brightness_offset:
            op = cv2.add if s.brightness_offset > 0 else cv2.subtract
            image = op(image, np.full_like(image, min(255, round(abs(s.brightness_offset)))))
        if s.camera_noise_sigma > 0:
            n = image.size
            if self._noise is None or self._noise[0] != (s.seed, s.camera_noise_sigma, n):
                # one bank of noise per episode; each frame reads it from its own seeded offset
                rng = np.random.default_rng([s.seed, 0xCA3])
                bank = np.rint(rng.standard_normal(n + NOISE_SLACK, dtype=np.float32) * s.camera_noise_sigma * 255)
                bank = np.clip(bank, -255, 255).astype(np.int16)
                self._noise = (
                    (s.seed, s.camera_noise_sigma, n),
                    np.clip(bank, 0, 255).astype(np.uint8),
                    np.clip(-bank, 0, 255).astype(np.uint8),
                )
            _, up, down = self._noise
            offset = int(np.random.default_rng([s.seed, self.frame, 0xCA3]).integers(0, NOISE_SLACK))
            image = cv2.subtract(
                cv2.add(image, up[offset : offset + n].reshape(image.shape)),
                down[offset : offset + n].reshape(image.shape),
            )
        return image

    def project(self, point: np.ndarray) -> tuple[float, float, float]:
        """Pixel (u, v) of a world point and its depth along the optical axis (negative: behind)."""
        d = self.data
        rel = np.asarray(point) - d.cam_xpos[self._cam]
        cam = d.cam_xmat[self._cam].reshape(3, 3).T @ rel  # camera frame: x right, y up, looking along -z
        depth = -cam[2]
        if depth <= 1e-6:
            return math.nan, math.nan, depth
        return (
            self.width / 2 + self.focal_px * cam[0] / depth,
            self.height / 2 - self.focal_px * cam[1] / depth,
            depth,
        )

    def ground_truth(self) -> list[FaceState]:
        states = []
        d = self.data
        cam_pos = d.cam_xpos[self._cam]
        for i, face in enumerate(self.scenario.faces):
            mocap = self._mocap[i]
            centre, quat = d.mocap_pos[mocap].copy(), d.mocap_quat[mocap].copy()
            rot = np.empty(9)
            self._mj.mju_quat2Mat(rot, quat)
            rot = rot.reshape(3, 3)
            tu, tv = load_texture(face.texture).target_uv
            # billboard local frame: +y is the texture's left edge (u=0), +z its top (v=0)
            local = np.array([0.0, (0.5 - tu) * 2 * BILLBOARD_HALF_M, (0.5 - tv) * 2 * BILLBOARD_HALF_M])
            target = centre + rot @ local
            u, v, depth = self.project(target)
            normal = rot @ np.array([-1.0, 0.0, 0.0])
            facing = float(normal @ (cam_pos - centre)) > 0
            visible = bool(depth > 0 and facing and 0 <= u < self.width and 0 <= v < self.height)
            angles, perturbed = self.face_angles(i)
            rates = (0.0, 0.0) if perturbed else rates_at(face.motion, self.time)
            states.append(
                FaceState(
                    i,
                    face.texture,
                    tuple(float(x) for x in centre),
                    tuple(float(x) for x in quat),
                    float(np.linalg.norm(centre - cam_pos)),
                    (float(u), float(v)),
                    visible,
                    perturbed,
                    angles,
                    rates,
                )
            )
        return states

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
