"""The phrasings of commands (commands.yaml beside this module): what generation draws, what training may
swap in, what is held out of training for measuring generalisation, and what request a command makes.

A request is (label, attribute, value): ("multi_left", "", ""), ("multi_attr", "shirt", "red"). Two
phrasings of one request ask for the same face, so training may swap one for the other.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from ocelot_common.text import normalise_command

PHRASING_SPLITS = ("train", "held_out")  # what a scenario may draw from: generation draws `train` unless told
PHRASING_SETS = ("train", "augment", "held_out")  # commands.yaml's sets
SLOTS = ("hair", "shirt")  # multi_attr phrasings with a colour to fill in


class PhrasingError(ValueError):
    """An unknown phrasing set; the message names the ones there are."""


@lru_cache(maxsize=1)
def _table() -> dict:
    return yaml.safe_load((Path(__file__).parent / "commands.yaml").read_text())


def phrasings(split: str = "train") -> dict:
    """Label -> phrasings (multi_attr: attribute -> phrasings) of one set of commands.yaml."""
    if split not in PHRASING_SETS:
        raise PhrasingError(f"unknown phrasing set {split!r}; sets: {', '.join(PHRASING_SETS)}")
    return _table()[split]


def _templates(split: str) -> list[tuple[str, str, str]]:
    """(label, attribute, template) of a set; attribute '' for labels without one."""
    table = phrasings(split)
    rows = [(label, "", t) for label, entries in table.items() if label != "multi_attr" for t in entries]
    return rows + [("multi_attr", kind, t) for kind, entries in table["multi_attr"].items() for t in entries]


def _pattern(template: str) -> re.Pattern:
    """A template as a regex on normalised commands; a colour slot captures one word."""
    text = re.escape(normalise_command(template))
    for slot in SLOTS:
        text = text.replace(re.escape("{" + slot + "}"), r"(\S+)")
    return re.compile(text + "$")


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, str, str, re.Pattern], ...]:
    """(set, label, attribute, pattern) of every template; those without a slot first, so that "wearing
    glasses" is read as glasses, not as a shirt colour named "glasses"."""
    rows = [(split, label, kind, template) for split in PHRASING_SETS for label, kind, template in _templates(split)]
    rows.sort(key=lambda row: "{" in row[3])
    return tuple((split, label, kind, _pattern(template)) for split, label, kind, template in rows)


def _match(command: str) -> tuple[str, tuple[str, str, str]] | None:
    text = normalise_command(command)
    for split, label, kind, pattern in _patterns():
        found = pattern.match(text)
        if found:
            return split, (label, kind, found.group(1) if found.groups() else "")
    return None


def request(command: str) -> tuple[str, str, str] | None:
    """The request a command makes, (label, attribute, colour), or None for a command of no set."""
    found = _match(command)
    return None if found is None else found[1]


def is_held_out(command: str) -> bool:
    """Whether a command is a held-out phrasing (any colour in its slot)."""
    found = _match(command)
    return found is not None and found[0] == "held_out"


def paraphrases(command: str) -> list[str]:
    """The `train` and `augment` phrasings of the command's request other than itself, normalised ([] for a
    command of no set or a held-out one)."""
    found = _match(command)
    if found is None or found[0] == "held_out":
        return []
    label, kind, value = found[1]
    rows = _templates("train") + _templates("augment")
    same = [template for row_label, row_kind, template in rows if (row_label, row_kind) == (label, kind)]
    texts = [normalise_command(t.format(**{slot: value for slot in SLOTS})) for t in same]
    return [t for t in texts if t != normalise_command(command)]
