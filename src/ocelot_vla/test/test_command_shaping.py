import math

import pytest

from ocelot_vla.command_shaping import CommandShaper, ShapingLimits, Watchdog


def test_clip_and_acceleration_limit():
    shaper = CommandShaper(ShapingLimits(max_velocity=0.5, max_acceleration=2.0))
    first = shaper.shape(3.0, -3.0, dt=0.1)
    assert (first.pan, first.tilt) == pytest.approx((0.2, -0.2))  # 2 rad/s^2 * 0.1 s
    for _ in range(5):
        out = shaper.shape(3.0, -3.0, dt=0.1)
    assert (out.pan, out.tilt) == pytest.approx((0.5, -0.5))  # clipped to max_velocity


def test_non_finite_output_becomes_zero_and_is_flagged():
    shaper = CommandShaper(ShapingLimits(max_acceleration=100.0))
    shaper.shape(0.8, 0.0, 0.1)
    out = shaper.shape(math.nan, math.inf, 0.1)
    assert out.guarded and (out.pan, out.tilt) == (0.0, 0.0)


def test_smoothing_and_estop_latch():
    shaper = CommandShaper(ShapingLimits(max_acceleration=100.0, smoothing=0.5))
    assert shaper.shape(1.0, 0.0, 0.1).pan == pytest.approx(0.5)
    shaper.estop = True
    held = [shaper.shape(1.0, 1.0, 0.1) for _ in range(3)]
    assert all(o.estop and (o.pan, o.tilt) == (0.0, 0.0) for o in held)
    shaper.estop = False
    assert shaper.shape(1.0, 0.0, 0.1).pan == pytest.approx(0.5)  # starts again from rest


@pytest.mark.parametrize(
    "kwargs", [{"max_velocity": 0}, {"max_velocity": math.nan}, {"max_acceleration": -1}, {"smoothing": 1.0}]
)
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ShapingLimits(**kwargs)


def test_watchdog_fires_once_per_stale_period():
    dog = Watchdog(0.5)
    dog.image(10.0)
    assert not dog.check(10.4)
    assert dog.check(10.6) and dog.stale
    assert not dog.check(11.0)  # silent after the one zero command
    dog.image(11.1)
    assert not dog.stale and not dog.check(11.2) and dog.check(11.7)
    with pytest.raises(ValueError):
        Watchdog(0.0)


def test_the_default_acceleration_limit_spares_the_servos_at_the_camera_rate():
    shaper = CommandShaper(ShapingLimits())  # the node's and vla.yaml's defaults
    full = shaper.shape(1.0, -1.0, dt=0.1)
    reverse = shaper.shape(-1.0, 1.0, dt=0.1)
    assert (reverse.pan, reverse.tilt) == pytest.approx((0.0, 0.0))  # a full reversal is not done in one frame
    assert abs(reverse.pan - full.pan) <= 1.0 + 1e-9
    assert shaper.shape(-1.0, 1.0, dt=0.1).pan == pytest.approx(-1.0)  # it takes two
