"""Face textures: seeded procedural faces with known attributes, and two public-domain photos.

Procedural faces give unlimited identities whose attributes (hair colour, skin
tone, glasses, hat, shirt colour) are known, which `multi_attr` commands name.
Scenarios draw from a stored pool of seeds that the Haar cascade detects
(face_pool.py). Each
texture's target point is the centre of the Haar box found on it, so the
oracle, the labels and the evaluator all aim at the same spot.
The photos (`photo:astronaut`, `photo:grace_hopper`) are for evaluation only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ocelot_sim.face_pool import face_pool, pool_of_split
from ocelot_sim.haar import box_centre, detect_faces

TEXTURE_PX = 256
POSTER_PX_AT = (277, 139, 92)  # the 0.5 m poster at 1, 2 and 3 m through the 554 px focal-length camera
SKIN_TONES = {
    "light": (236, 204, 178),
    "medium": (214, 170, 130),
    "tan": (184, 136, 96),
    "brown": (140, 96, 66),
    "dark": (98, 66, 46),
}
HAIR_COLOURS = {
    "black": (30, 26, 24),
    "brown": (96, 62, 36),
    "blonde": (218, 186, 118),
    "red": (168, 68, 32),
    "grey": (168, 168, 168),
}
SHIRT_COLOURS = {
    "red": (190, 40, 40),
    "blue": (40, 70, 180),
    "green": (40, 140, 60),
    "white": (235, 235, 235),
    "black": (30, 30, 30),
    "yellow": (220, 200, 50),
}
PHOTOS = ("astronaut", "grace_hopper")


class TextureError(ValueError):
    """A texture name that does not name a usable face; the message says which names work."""


@dataclass(frozen=True)
class Attributes:
    hair_colour: str
    skin_tone: str
    shirt_colour: str
    glasses: bool
    hat: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FaceTexture:
    name: str  # procedural:<int> | photo:<name>
    image: np.ndarray  # (256, 256, 3) uint8 RGB, row 0 at the top
    attributes: Attributes
    target_uv: tuple[float, float]  # Haar box centre on the flat texture, in [0, 1] (u right, v down)


def procedural_attributes(index: int) -> Attributes:
    rng = np.random.default_rng([index, 0xFACE])
    return Attributes(
        hair_colour=str(rng.choice(list(HAIR_COLOURS))),
        skin_tone=str(rng.choice(list(SKIN_TONES))),
        shirt_colour=str(rng.choice(list(SHIRT_COLOURS))),
        glasses=bool(rng.random() < 0.3),
        hat=bool(rng.random() < 0.25),
    )


def draw_procedural_face(index: int) -> np.ndarray:
    """A drawn face (head, hair, eyes, brows, nose, mouth, shading) on a plain poster."""
    import cv2

    attrs = procedural_attributes(index)
    rng = np.random.default_rng([index, 0xD12A])
    s = TEXTURE_PX
    poster = np.array(rng.integers(70, 200, size=3), dtype=np.float64)
    img = np.ones((s, s, 3), np.float64) * poster
    skin = np.array(SKIN_TONES[attrs.skin_tone], np.float64) * rng.uniform(0.92, 1.06)
    hair = np.array(HAIR_COLOURS[attrs.hair_colour], np.float64)
    shirt = np.array(SHIRT_COLOURS[attrs.shirt_colour], np.float64)

    scale = rng.uniform(0.88, 1.0)
    cx = s / 2 + rng.uniform(-6, 6)
    cy = s * 0.46
    ax, ay = 58 * scale, 76 * scale  # head half-width, half-height
    # shoulders and neck
    cv2.ellipse(img, (int(cx), int(s + 30)), (int(118 * scale), 70), 0, 180, 360, shirt.tolist(), -1)
    cv2.rectangle(
        img, (int(cx - 20 * scale), int(cy + ay * 0.7)), (int(cx + 20 * scale), int(s - 30)), (skin * 0.85).tolist(), -1
    )
    # hair behind the head (long hair reaches the shoulders)
    long_hair = rng.random() < 0.4
    cv2.ellipse(
        img,
        (int(cx), int(cy - 6 * scale)),
        (int(ax * 1.12), int(ay * (1.12 if long_hair else 1.02))),
        0,
        180 if not long_hair else 0,
        360,
        hair.tolist(),
        -1,
    )
    # head with soft shading: lighter towards a random side
    head = np.zeros((s, s), np.uint8)
    cv2.ellipse(head, (int(cx), int(cy)), (int(ax), int(ay)), 0, 0, 360, 255, -1)
    yy, xx = np.mgrid[0:s, 0:s]
    light = rng.uniform(-1, 1)
    shade = 1.0 + 0.12 * light * (xx - cx) / ax - 0.1 * ((xx - cx) / ax) ** 2 - 0.06 * ((yy - cy) / ay) ** 2
    mask = head > 0
    img[mask] = skin[None, :] * shade[mask][:, None]
    # fringe: hair over the forehead
    cv2.ellipse(img, (int(cx), int(cy - ay * 0.62)), (int(ax * 0.98), int(ay * 0.42)), 0, 180, 360, hair.tolist(), -1)
    # eyes
    eye_dx, eye_y = ax * 0.42, cy - ay * 0.12
    iris = np.array(rng.choice([(60, 40, 30), (50, 90, 140), (70, 100, 60), (30, 30, 30)]), np.float64)
    for side in (-1, 1):  # eye sockets: the dark band across the eyes is what Haar keys on
        cv2.ellipse(
            img,
            (int(cx + side * eye_dx), int(eye_y - ay * 0.02)),
            (int(ax * 0.3), int(ay * 0.14)),
            0,
            0,
            360,
            (skin * 0.72).tolist(),
            -1,
        )
    for side in (-1, 1):
        ex = cx + side * eye_dx
        cv2.ellipse(img, (int(ex), int(eye_y)), (int(ax * 0.2), int(ay * 0.075)), 0, 0, 360, (245, 245, 240), -1)
        cv2.circle(img, (int(ex), int(eye_y)), int(ay * 0.07), iris.tolist(), -1)
        cv2.circle(img, (int(ex), int(eye_y)), int(ay * 0.035), (15, 15, 15), -1)
        # brows
        by = eye_y - ay * 0.17
        cv2.line(
            img,
            (int(ex - ax * 0.22), int(by + 2)),
            (int(ex + ax * 0.22), int(by)),
            (np.minimum(hair, skin) * 0.5).tolist(),
            max(3, int(ay * 0.07)),
        )
    # nose: a shaded wedge and nostrils
    ny = cy + ay * 0.2
    pts = np.array([[cx, eye_y + 4], [cx - ax * 0.14, ny], [cx + ax * 0.14, ny]], np.int32)
    cv2.fillConvexPoly(img, pts, (skin * 0.86).tolist())
    for side in (-1, 1):
        cv2.circle(img, (int(cx + side * ax * 0.08), int(ny)), max(2, int(ax * 0.04)), (skin * 0.55).tolist(), -1)
    # mouth
    my = cy + ay * 0.45
    lips = (skin * np.array([0.75, 0.5, 0.5])).tolist()
    cv2.ellipse(img, (int(cx), int(my)), (int(ax * 0.32), int(ay * 0.08)), 0, 0, 360, lips, -1)
    cv2.line(img, (int(cx - ax * 0.3), int(my)), (int(cx + ax * 0.3), int(my)), (skin * 0.4).tolist(), 2)
    if attrs.glasses:
        frame = (25, 25, 25)
        for side in (-1, 1):
            cv2.circle(img, (int(cx + side * eye_dx), int(eye_y)), int(ax * 0.27), frame, 3)
        cv2.line(img, (int(cx - eye_dx + ax * 0.27), int(eye_y)), (int(cx + eye_dx - ax * 0.27), int(eye_y)), frame, 3)
    if attrs.hat:
        hat = np.array(rng.integers(20, 220, size=3), np.float64).tolist()
        top = int(cy - ay * 1.35)
        cv2.rectangle(img, (int(cx - ax * 0.95), top), (int(cx + ax * 0.95), int(cy - ay * 0.72)), hat, -1)
        cv2.rectangle(
            img, (int(cx - ax * 1.35), int(cy - ay * 0.8)), (int(cx + ax * 1.35), int(cy - ay * 0.68)), hat, -1
        )
    return cv2.GaussianBlur(np.clip(img, 0, 255).astype(np.uint8), (3, 3), 0.8)


def _photo_source(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    if name == "grace_hopper":
        import matplotlib
        from PIL import Image

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        return np.asarray(Image.open(path).convert("RGB"))
    raise TextureError(f"unknown photo '{name}'; photos: {', '.join(PHOTOS)}")


PHOTO_ATTRIBUTES = {
    "astronaut": Attributes(hair_colour="brown", skin_tone="light", shirt_colour="white", glasses=False, hat=False),
    "grace_hopper": Attributes(hair_colour="grey", skin_tone="light", shirt_colour="black", glasses=False, hat=True),
}


def _photo_texture(name: str) -> np.ndarray:
    """The photo cropped to a square around its face (face about 45% of the side), 256 px."""
    import cv2

    src = _photo_source(name)
    boxes = detect_faces(src, min_size=40)
    if len(boxes) == 0:
        raise RuntimeError(f"no face found in photo '{name}'")
    fx, fy = box_centre(boxes[0])
    side = int(boxes[0][2] / 0.45)
    pad = side
    padded = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    x0, y0 = int(fx - side / 2) + pad, int(fy - side / 2 + side * 0.06) + pad
    crop = padded[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(crop, (TEXTURE_PX, TEXTURE_PX), interpolation=cv2.INTER_AREA)


def parse_texture_name(name: str) -> tuple[str, str | int]:
    kind, sep, value = str(name).partition(":")
    if sep and kind == "procedural":
        try:
            index = int(value)
        except ValueError:
            index = -1
        if index >= 0:
            return kind, index
    if sep and kind == "photo" and value in PHOTOS:
        return kind, value
    raise TextureError(f"unknown texture '{name}'; use procedural:<non-negative int> or photo:<{'|'.join(PHOTOS)}>")


# Small on purpose: the per-frame lookups need only the current and the prefetched scenario's faces; with
# 256 entries (192 KiB each) a long evaluation grew the sim by ~48 MiB as new faces kept arriving.
@lru_cache(maxsize=32)
def load_texture(name: str) -> FaceTexture:
    kind, value = parse_texture_name(name)
    if isinstance(value, int):  # procedural
        image, attributes = draw_procedural_face(value), procedural_attributes(value)
    else:
        image, attributes = _photo_texture(value), PHOTO_ATTRIBUTES[value]
    image.setflags(write=False)
    if kind == "procedural" and value in face_pool():
        return FaceTexture(name, image, attributes, face_pool()[value])  # checked when the pool was built
    boxes = detect_faces(image)
    if len(boxes) == 0:
        raise TextureError(
            f"texture '{name}' has no face the Haar cascade detects; "
            "choose another procedural index (see detectable_procedural)"
        )
    u, v = box_centre(boxes[0])
    return FaceTexture(name, image, attributes, (u / TEXTURE_PX, v / TEXTURE_PX))


@lru_cache(maxsize=4096)
def is_detectable(index: int) -> bool:
    """Detected on the flat texture, and still when dimmed and seen at its size at 1, 2 and 3 m.

    The extra checks keep out faces whose features only just pass, which the
    rendered camera (lighting, distance, noise) would often lose.
    """
    import cv2

    image = draw_procedural_face(index)
    if len(detect_faces(image)) == 0:
        return False
    for side in POSTER_PX_AT:
        seen = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA if side < TEXTURE_PX else cv2.INTER_LINEAR)
        seen = (seen.astype(np.float32) * 0.6).astype(np.uint8)
        canvas = np.full((side + 80, side + 80, 3), 90, np.uint8)
        canvas[40 : 40 + side, 40 : 40 + side] = seen
        if len(detect_faces(canvas)) == 0:
            return False
    return True


def detectable_procedural(
    rng: np.random.Generator, accept=lambda attrs: True, max_tries: int = 400, split: str | None = None
) -> int:
    """Draw from the pool of Haar-detectable faces (one partition of it, if `split`) until one's attributes
    pass `accept`."""
    pool = list(face_pool()) if split is None else list(pool_of_split(split))
    for _ in range(max_tries):
        index = pool[int(rng.integers(0, len(pool)))]
        if accept(procedural_attributes(index)):
            return index
    raise RuntimeError("no detectable procedural face met the constraints")
