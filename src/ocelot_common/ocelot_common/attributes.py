"""The attributes a face has and an attribute command names, as classes: what a policy learns to see on a face
(its shirt's and hair's colour, glasses, a hat) and what a command asks for.

The scenario generator draws faces with these values (ocelot_sim.faces, whose colour tables are checked
against these names) and records them in each episode's metadata; commands.yaml's attribute phrasings name one.
"""

from __future__ import annotations

from ocelot_common.phrasings import request

ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "shirt": ("red", "blue", "green", "white", "black", "yellow"),
    "hair": ("black", "brown", "blonde", "red", "grey"),
    "glasses": ("no", "yes"),
    "hat": ("no", "yes"),
}
METADATA_KEYS = {"shirt": "shirt_colour", "hair": "hair_colour", "glasses": "glasses", "hat": "hat"}
# every (kind, value) in one flat list, the order of a policy's per-cell attribute logits
ATTRIBUTE_CLASSES: tuple[tuple[str, str], ...] = tuple(
    (kind, value) for kind, values in ATTRIBUTE_VALUES.items() for value in values
)
NO_ATTRIBUTE = len(ATTRIBUTE_CLASSES)  # the query class of a command that names no attribute
UNKNOWN = -1  # not known: a face without recorded attributes, a command of no phrasing set


def face_classes(attributes: dict | None) -> tuple[int, ...]:
    """A face's recorded attributes (episode metadata's `faces[i]["attributes"]`) -> its value's index within
    each kind of ATTRIBUTE_VALUES, UNKNOWN where not recorded or not one of the values."""
    found = []
    for kind, values in ATTRIBUTE_VALUES.items():
        value = (attributes or {}).get(METADATA_KEYS[kind])
        if isinstance(value, bool):
            value = "yes" if value else "no"
        found.append(values.index(value) if value in values else UNKNOWN)
    return tuple(found)


def query_class(command: str) -> int:
    """The index in ATTRIBUTE_CLASSES of what a command asks the face to have ("the person in the red shirt":
    shirt red, "... wearing a hat": hat yes), NO_ATTRIBUTE for a command that names none, UNKNOWN for a
    command of no phrasing set."""
    found = request(command)
    if found is None:
        return UNKNOWN
    label, kind, value = found
    if label != "multi_attr":
        return NO_ATTRIBUTE
    wanted = (kind, value or "yes")
    return ATTRIBUTE_CLASSES.index(wanted) if wanted in ATTRIBUTE_CLASSES else UNKNOWN
