"""Robot profiles as data: the shipped files load, bad ones are refused with the reason, and randomised
draws are the same for the same episode seed and stay in their ranges."""

import math

import pytest

from ocelot_sim.robot_profile import (
    RobotProfile,
    RobotProfileError,
    from_values,
    load_profile,
    parse_randomisation,
    profile_names,
    profile_reference,
)


def test_the_shipped_profiles_load_and_ideal_is_the_instant_loop():
    assert {"ideal", "pi4"} <= set(profile_names())
    ideal, pi4 = load_profile("ideal"), load_profile("pi4")
    assert ideal == RobotProfile() and ideal.instant_actuators
    assert not pi4.instant_actuators and pi4.name == "pi4"
    assert 0.08 <= pi4.command_latency_s <= 0.15  # about one camera period, as the hardware adds up
    assert all(0 < tau < 0.2 for tau in pi4.time_constant_s) and all(math.isfinite(a) for a in pi4.accel_limit_rad_s2)
    assert pi4.exposure_s > 0
    assert ideal.values()["accel_limit_rad_s2"] == ["inf", "inf"]  # JSON has no inf
    assert from_values(pi4.values()) == pi4 and from_values(ideal.values()) == ideal  # a report's values round-trip


def test_a_profile_file_by_path_with_one_value_per_axis(tmp_path):
    path = tmp_path / "slow_rig.yaml"
    path.write_text("command_latency_s: 0.2\ntime_constant_s: 0.1\n")
    profile = load_profile(str(path))
    assert profile.name == "slow_rig" and profile.time_constant_s == (0.1, 0.1)
    assert profile.accel_limit_rad_s2 == (math.inf, math.inf) and profile.exposure_s == 0.0
    assert profile_reference(str(path)) == str(path.resolve()) and profile_reference("pi4") == "pi4"


@pytest.mark.parametrize(
    "text, message",
    [
        ("command_latency_s: -0.1\n", "command_latency_s must be a number >= 0"),
        ("command_latency_s: fast\n", "command_latency_s must be a number"),
        ("time_constant_s: [0.1, 0.1, 0.1]\n", "time_constant_s must be a number or [pan, tilt]"),
        ("accel_limit_rad_s2: 0\n", "accel_limit_rad_s2 must be > 0"),
        ("latency_ms: 100\n", "unknown value(s) latency_ms"),
        ("[1, 2]\n", "a robot profile is a mapping"),
    ],
)
def test_bad_profile_files_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RobotProfileError) as caught:
        load_profile(str(path))
    assert message in str(caught.value)


def test_an_unknown_name_lists_the_profiles():
    with pytest.raises(RobotProfileError, match="no robot profile 'pi5'; profiles: .*ideal.*pi4"):
        load_profile("pi5")
    with pytest.raises(RobotProfileError, match="no robot profile given"):
        load_profile(" ")


def test_randomised_draws_are_per_episode_seed_and_within_their_ranges():
    pi4 = load_profile("pi4")
    spread = parse_randomisation("command_latency_s=0.05:0.15, time_constant_s=0.02:0.1")
    draws = [spread.apply(pi4, seed) for seed in range(40)]
    assert draws == [spread.apply(pi4, seed) for seed in range(40)]  # the same seed, the same robot
    latencies = [d.command_latency_s for d in draws]
    assert all(0.05 <= x <= 0.15 for x in latencies) and max(latencies) - min(latencies) > 0.05
    for d in draws:  # one draw per axis pair, the profile's pan/tilt ratio kept
        assert 0.02 <= max(d.time_constant_s) <= 0.1
        assert d.time_constant_s[1] / d.time_constant_s[0] == pytest.approx(
            pi4.time_constant_s[1] / pi4.time_constant_s[0]
        )
        assert d.accel_limit_rad_s2 == pi4.accel_limit_rad_s2 and d.exposure_s == pi4.exposure_s
    assert parse_randomisation("").apply(pi4, 3) is pi4
    assert (
        parse_randomisation("time_constant_s=0.02:0.1").apply(RobotProfile(), 1).time_constant_s[0]
        == parse_randomisation("time_constant_s=0.02:0.1").apply(RobotProfile(), 1).time_constant_s[1]
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("latency=0.1:0.2", "must be VALUE=LOW:HIGH"),
        ("command_latency_s=0.2", "must be VALUE=LOW:HIGH"),
        ("command_latency_s=0.2:0.1", "needs 0 <= LOW <= HIGH"),
        ("command_latency_s=a:b", "LOW and HIGH must be numbers"),
        ("accel_limit_rad_s2=0:5", "must be > 0"),
        ("exposure_s=0:0.01,exposure_s=0:0.02", "names exposure_s twice"),
    ],
)
def test_bad_randomisation_is_refused_with_the_reason(text, message):
    with pytest.raises(RobotProfileError, match=message):
        parse_randomisation(text)
