"""The kinds of command a scenario asks for (its label), and label mixes: what generation draws,
what a dataset check expects and what the evaluator scores per label."""

from __future__ import annotations

LABELS = ("track", "multi_left", "multi_right", "multi_closest", "multi_attr")


class LabelMixError(ValueError):
    """A label mix that cannot be read; the message names the entry and the fix."""


def parse_label_mix(text: str) -> dict[str, float] | None:
    """'track:0.4,multi_left:0.15,...' -> weights; '' -> None (the default mix)."""
    if not text.strip():
        return None
    mix = {}
    for part in text.split(","):
        label, sep, weight = part.partition(":")
        label = label.strip()
        if label not in LABELS or not sep:
            raise LabelMixError(f"label_mix: bad entry '{part}'; use label:weight with labels {', '.join(LABELS)}")
        try:
            mix[label] = float(weight)
        except ValueError:
            raise LabelMixError(f"label_mix: weight of '{label}' must be a number, got '{weight}'") from None
        if mix[label] < 0:
            raise LabelMixError(f"label_mix: weight of '{label}' must be >= 0")
    if sum(mix.values()) <= 0:
        raise LabelMixError("label_mix: the weights must add up to more than 0")
    return mix
