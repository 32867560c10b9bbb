"""Parameter checks on a real rclpy node: bad values refused with the reason, good ones taken and applied."""

import pytest
import rclpy
from rclpy.parameter import Parameter

from ocelot_common.parameters import at_least, between, json_object, not_blank, positive, refuse_bad_values


@pytest.fixture
def node():
    context = rclpy.Context()
    rclpy.init(context=context, args=[])
    node = rclpy.create_node("checked", context=context, start_parameter_services=False)
    for name, value in (
        ("rate", 10.0),
        ("threads", 1),
        ("level", 4),
        ("text", "hi"),
        ("settings", "{}"),
        ("low", 1.0),
        ("high", 2.0),
    ):
        node.declare_parameter(name, value)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def set_one(node, name, value):
    return node.set_parameters([Parameter(name, value=value)])[0]


def test_each_check_refuses_with_the_reason_and_keeps_the_old_value(node):
    applied = []

    def ordered(values):
        if not values["low"] < values["high"]:
            raise ValueError("low must be below high")

    refuse_bad_values(
        node,
        {"rate": positive, "threads": at_least(1), "level": between(0, 9), "text": not_blank, "settings": json_object},
        together=ordered,
        then=applied.append,
    )
    for name, value, reason in (
        ("rate", 0.0, "rate=0.0 refused: must be > 0"),
        ("threads", 0, "must be >= 1"),
        ("level", 12, "must be in [0, 9]"),
        ("text", "  ", "must not be empty"),
        ("settings", "[1]", "must be a JSON object"),
        ("settings", "{", "is not JSON"),
        ("low", 3.0, "refused: low must be below high"),
    ):
        result = set_one(node, name, value)
        assert not result.successful and reason in result.reason
    assert node.get_parameter("rate").value == 10.0 and node.get_parameter("low").value == 1.0
    assert applied == []
    assert set_one(node, "rate", 20.0).successful and node.get_parameter("rate").value == 20.0
    assert set_one(node, "high", 5.0).successful and set_one(node, "low", 3.0).successful
    assert applied == [{"rate": 20.0}, {"high": 5.0}, {"low": 3.0}]
