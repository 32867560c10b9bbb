#!/usr/bin/env bash
# Build the workspace with colcon: `make setup`, the deploy venv (scripts/setup_deploy_venv.sh), the images and
# a Pi with ROS from apt all use this one command. Extra arguments go to colcon, e.g. --packages-up-to ocelot_vla.
set -euo pipefail
if [ -n "${VIRTUAL_ENV:-}" ]; then  # ROS from wheels: the venv is the ROS prefix (with apt ROS it adds nothing)
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV:${AMENT_PREFIX_PATH:-}" CMAKE_PREFIX_PATH="$VIRTUAL_ENV:${CMAKE_PREFIX_PATH:-}"
fi
colcon build --event-handlers console_cohesion- summary+ status- "$@" --cmake-args -DBUILD_TESTING=OFF
