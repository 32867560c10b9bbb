from pathlib import Path

import pytest

from ocelot_common.ros_env import ros_environment, validate_domain_id


def test_defaults_fill_only_what_is_missing():
    env = ros_environment({"ROS_DOMAIN_ID": "5", "PATH": "/bin"})
    assert env["ROS_DOMAIN_ID"] == "5" and env["PATH"] == "/bin"
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"


def test_explicit_domain_overrides():
    assert ros_environment({"ROS_DOMAIN_ID": "5"}, domain_id=9)["ROS_DOMAIN_ID"] == "9"


@pytest.mark.parametrize("bad", [-1, 102, 232])
def test_domain_range(bad):
    with pytest.raises(ValueError, match="ROS_DOMAIN_ID must be within 0..101"):
        validate_domain_id(bad)


def test_fast_dds_profile_ships_and_is_the_default():
    env = ros_environment({})
    profile = Path(env["FASTDDS_DEFAULT_PROFILES_FILE"])
    assert profile.is_file() and "heartbeat_period" in profile.read_text()
    assert env["FASTDDS_BUILTIN_TRANSPORTS"] == "LARGE_DATA"
    assert (
        ros_environment({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"})["FASTDDS_DEFAULT_PROFILES_FILE"] == "/mine.xml"
    )
