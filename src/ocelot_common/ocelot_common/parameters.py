"""Parameter checks: a value set at run time (`ros2 param set`) that cannot work is refused, with the reason.

Each node names a check per parameter (raises ValueError saying what is wrong) and, optionally,
one check over its parameters together (e.g. a hold shorter than an interval). The types are
already enforced by ROS: a declared integer refuses a string before these checks run.
Values given at start-up are checked by the node's on_configure, which fails with the same reasons.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import SetParametersResult

Check = Callable[[Any], None]


def positive(value) -> None:
    if not value > 0:
        raise ValueError("must be > 0")


def non_negative(value) -> None:
    if not value >= 0:
        raise ValueError("must be >= 0")


def at_least(low) -> Check:
    def check(value) -> None:
        if not value >= low:
            raise ValueError(f"must be >= {low}")

    return check


def between(low, high) -> Check:
    def check(value) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be in [{low}, {high}]")

    return check


def one_of(choices) -> Check:
    def check(value) -> None:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")

    return check


def not_blank(value) -> None:
    if not str(value).strip():
        raise ValueError("must not be empty")


def json_object(value) -> None:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ValueError("must be a JSON object")


def refuse_bad_values(
    node,
    checks: dict[str, Check],
    together: Callable[[dict], None] | None = None,
    then: Callable[[dict], None] | None = None,
) -> None:
    """Register the checks as node's on-set-parameters callback.

    `together` sees every parameter as it would be after the update; `then` runs with the
    updated values only once everything passed (for nodes that apply a change at once)."""

    def callback(params) -> SetParametersResult:
        updates = {p.name: p.value for p in params}
        for name, value in updates.items():
            if name in checks:
                try:
                    checks[name](value)
                except (TypeError, ValueError) as exc:
                    return SetParametersResult(successful=False, reason=f"{name}={value!r} refused: {exc}")
        try:
            if together is not None:
                current = {name: param.value for name, param in node.get_parameters_by_prefix("").items()}
                together({**current, **updates})
            if then is not None:
                then(updates)
        except (TypeError, ValueError) as exc:
            return SetParametersResult(successful=False, reason=f"refused: {exc}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(callback)
