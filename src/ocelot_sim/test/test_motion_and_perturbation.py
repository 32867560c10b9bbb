import numpy as np
import pytest

from ocelot_sim.motion import MOTIONS, MotionSpec, angles_at, rates_at
from ocelot_sim.perturbation import TILT_SHARE, Perturbation, active_jump, jump_offset


@pytest.mark.parametrize("pattern", MOTIONS)
def test_speed_and_lane_bounds(pattern):
    spec = MotionSpec(pattern, 0.45, (0.1, -0.05), 0.25, 0.3, 0.6, 99)
    times = np.arange(0, 40, 0.01)
    pts = np.array([angles_at(spec, t) for t in times])
    speed = np.hypot(*np.diff(pts, axis=0).T) / 0.01
    assert speed.max() <= 0.45 * 1.01
    along = np.hypot(pts[:, 0] - 0.1, pts[:, 1] + 0.05)
    assert along.max() <= 0.25 + 1e-9
    if pattern != "static":
        assert speed.max() > 0.2  # it does move


def test_rates_match_the_path():
    spec = MotionSpec("sine", 0.3, (0.0, 0.0), 0.2, 0.0, 0.1, 5)
    t = 2.37
    az0, _ = angles_at(spec, t)
    az1, _ = angles_at(spec, t + 0.01)
    assert rates_at(spec, t)[0] == pytest.approx((az1 - az0) / 0.01, abs=0.01)


def test_unknown_motion():
    with pytest.raises(ValueError, match="unknown motion 'hop'"):
        MotionSpec("hop", 0.1, (0, 0), 0.1, 0, 0, 0)


def test_jump_schedule():
    p = Perturbation(interval=15, range_rad=0.5, hold=5)
    held = [f for f in range(100) if active_jump(p, f) is not None]
    assert held == [f for k in range(1, 7) for f in range(15 * k, 15 * k + 5)]
    assert active_jump(Perturbation(), 30) is None  # off by default


def test_jump_offsets_seeded_and_bounded():
    p = Perturbation(15, 0.5, 5)
    offsets = np.array([jump_offset(p, 1234, k) for k in range(1, 400)])
    assert np.abs(offsets[:, 0]).max() <= 0.5 and np.abs(offsets[:, 1]).max() <= 0.5 * TILT_SHARE
    assert np.abs(offsets[:, 0]).max() > 0.45  # uniform over the whole range
    assert jump_offset(p, 1234, 3) == jump_offset(p, 1234, 3) != jump_offset(p, 1235, 3)


@pytest.mark.parametrize("kwargs", [{"interval": -1}, {"interval": 5, "hold": 5}, {"range_rad": -0.1}])
def test_bad_perturbation(kwargs):
    with pytest.raises(ValueError):
        Perturbation(**kwargs)
