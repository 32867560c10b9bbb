from ocelot_common.attributes import (
    ATTRIBUTE_CLASSES,
    ATTRIBUTE_VALUES,
    NO_ATTRIBUTE,
    UNKNOWN,
    face_classes,
    query_class,
)
from ocelot_common.phrasings import phrasings


def test_every_attribute_phrasing_of_every_set_names_its_class():
    for split in ("train", "augment", "held_out"):
        for kind, templates in phrasings(split)["multi_attr"].items():
            for value in ATTRIBUTE_VALUES[kind] if kind in ("hair", "shirt") else ("yes",):
                for template in templates:
                    command = template.format(hair=value, shirt=value)
                    assert ATTRIBUTE_CLASSES[query_class(command)] == (kind, value), command


def test_commands_naming_no_attribute_and_unknown_commands():
    assert query_class("Track the  Face") == NO_ATTRIBUTE == len(ATTRIBUTE_CLASSES)
    assert query_class("follow the person on the left") == NO_ATTRIBUTE
    assert query_class("dance a jig") == UNKNOWN
    assert query_class("track the person in the teal shirt") == UNKNOWN  # a colour no face is drawn with


def test_face_classes_index_each_kind_and_mark_what_is_not_recorded():
    recorded = {"shirt_colour": "black", "hair_colour": "blonde", "skin_tone": "tan", "glasses": True, "hat": False}
    assert face_classes(recorded) == (4, 2, 1, 0)
    assert face_classes({"shirt_colour": "mauve", "glasses": False}) == (UNKNOWN, UNKNOWN, 0, UNKNOWN)
    assert face_classes(None) == (UNKNOWN,) * 4
