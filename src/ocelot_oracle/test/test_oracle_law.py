import math

import pytest

from ocelot_common.camera import Camera
from ocelot_oracle.oracle_law import OracleGains, OracleLaw, pixel_to_angles

CAM = Camera()


def test_focal_length_from_60_degree_fov():
    assert CAM.focal_px == pytest.approx(320 / math.tan(math.radians(30)))


def test_pixel_angles_signs():
    assert pixel_to_angles(320, 240, CAM) == (0.0, 0.0)
    pan, tilt = pixel_to_angles(400, 200, CAM)  # right of and above centre
    assert pan < 0 and tilt > 0
    assert pixel_to_angles(0, 240, CAM)[0] == pytest.approx(math.radians(30))


def test_p_term_turns_towards_the_target():
    law = OracleLaw(OracleGains(feed_forward=False))
    pan_vel, tilt_vel = law.command(0.0, 300, 260, 0.0, 0.0)
    err_pan, err_tilt = pixel_to_angles(300, 260, CAM)
    assert pan_vel == pytest.approx(7.0 * err_pan) and tilt_vel == pytest.approx(7.0 * err_tilt)


def test_feed_forward_supplies_the_rate_of_a_centred_moving_target():
    """Camera keeps up with a target turning at 0.3 rad/s: P is zero, feed-forward gives the rate."""
    law = OracleLaw()
    rate = 0.3
    for k in range(3):
        t = 0.1 * k
        pan_vel, tilt_vel = law.command(t, 320, 240, rate * t, 0.0)
    assert pan_vel == pytest.approx(rate, abs=1e-9) and tilt_vel == 0.0


def test_clipped_to_joint_limit_and_nan_safe():
    law = OracleLaw(OracleGains(max_velocity=1.0))
    pan_vel, _ = law.command(0.0, 0.0, 240, 0.0, 0.0)
    assert pan_vel == 1.0
    assert law.clip(float("nan")) == 0.0 and law.clip(-5.0) == -1.0


def test_reset_forgets_the_previous_bearing():
    law = OracleLaw(OracleGains(gain=0.5))
    law.command(0.0, 320, 240, 0.0, 0.0)
    law.reset()
    pan_vel, _ = law.command(0.1, 320, 240, 0.5, 0.0)  # would be a 5 rad/s jump without reset
    assert pan_vel == 0.0


@pytest.mark.parametrize("kwargs", [{"gain": 0.0}, {"gain": 1.5}, {"period_s": 0.0}, {"max_velocity": -1.0}])
def test_invalid_gains_rejected(kwargs):
    with pytest.raises(ValueError):
        OracleGains(**kwargs)
