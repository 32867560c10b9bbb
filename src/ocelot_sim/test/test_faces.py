import numpy as np
import pytest

from ocelot_common.attributes import ATTRIBUTE_VALUES
from ocelot_sim.face_pool import face_pool
from ocelot_sim.faces import (
    HAIR_COLOURS,
    PHOTOS,
    SHIRT_COLOURS,
    TextureError,
    detectable_procedural,
    draw_procedural_face,
    is_detectable,
    load_texture,
    procedural_attributes,
)
from ocelot_sim.haar import detect_faces


def test_procedural_faces_are_deterministic_and_varied():
    assert np.array_equal(draw_procedural_face(42), draw_procedural_face(42))
    assert not np.array_equal(draw_procedural_face(42), draw_procedural_face(43))
    attrs = [procedural_attributes(i) for i in range(200)]
    assert len({a.hair_colour for a in attrs}) == 5 and len({a.skin_tone for a in attrs}) == 5
    assert len({a.shirt_colour for a in attrs}) == 6
    assert 0.15 < np.mean([a.glasses for a in attrs]) < 0.45 and 0.1 < np.mean([a.hat for a in attrs]) < 0.4


def test_kept_faces_are_detected_and_target_is_the_haar_centre():
    rng = np.random.default_rng(0)
    for _ in range(5):
        index = detectable_procedural(rng)
        texture = load_texture(f"procedural:{index}")
        x, y, w, h = detect_faces(texture.image)[0]
        assert texture.target_uv == pytest.approx(((x + w / 2) / 256, (y + h / 2) / 256))


def test_detectability_filter_rejects_some_faces():
    verdicts = [is_detectable(i) for i in range(40)]
    assert 0 < sum(verdicts) < 40


def test_constraints_are_honoured():
    index = detectable_procedural(np.random.default_rng(1), lambda a: a.glasses and a.hair_colour == "red")
    attrs = procedural_attributes(index)
    assert attrs.glasses and attrs.hair_colour == "red"


@pytest.mark.parametrize("name", PHOTOS)
def test_photos_ship_offline_and_are_detected(name):
    texture = load_texture(f"photo:{name}")
    assert texture.image.shape == (256, 256, 3) and texture.image.dtype == np.uint8
    u, v = texture.target_uv
    assert 0.3 < u < 0.7 and 0.3 < v < 0.7


@pytest.mark.parametrize("name", ["procedural:-1", "procedural:abc", "photo:mona_lisa", "face:3", "3"])
def test_unknown_textures(name):
    with pytest.raises(TextureError, match="unknown texture"):
        load_texture(name)


def test_pool_faces_pass_the_detectability_check():
    pool = list(face_pool())
    assert len(pool) >= 1000 and len(set(pool)) == len(pool)
    for index in pool[:: len(pool) // 4][:4]:
        assert is_detectable(index)


def test_faces_are_drawn_with_the_attribute_values_commands_and_policies_name():
    assert tuple(SHIRT_COLOURS) == ATTRIBUTE_VALUES["shirt"] and tuple(HAIR_COLOURS) == ATTRIBUTE_VALUES["hair"]
