#!/usr/bin/env bash
# Source ROS and the Ocelot workspace, then run the command (ocelot launch deploy ..., ros2 lifecycle ...).
set -e
# shellcheck disable=SC1091
source /opt/ros/kilted/setup.bash
# shellcheck disable=SC1091
source /ocelot/install/setup.bash
exec "$@"
