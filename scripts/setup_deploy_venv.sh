#!/usr/bin/env bash
# A venv with only what the robot runs - the ROS wheels, onnxruntime, tokenizers, numpy, PyYAML, OpenCV -
# plus colcon and the message generators to build it; then `colcon build --packages-up-to ocelot_vla
# ocelot_bringup` into it. No torch, no MuJoCo. Versions are the main venv's pins (-c).
#   bash scripts/setup_deploy_venv.sh DIR [--with-tests]   -> DIR/venv, DIR/build, DIR/install
# --with-tests adds what the robot's packages' own tests need there (requirements/robot-test.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$(mkdir -p "$1" && cd "$1" && pwd)"
with_tests="${2:-}"
export COLCON_LOG_PATH="$target/log"
python3 -m venv "$target/venv"
"$target/venv/bin/pip" install --disable-pip-version-check -q \
  -r "$root/requirements/ros.txt" -r "$root/requirements/runtime.txt" -r "$root/requirements/build.txt" \
  numpy pyyaml opencv-python-headless -c "$root/requirements/dev.txt" -c "$root/requirements/sim.txt" \
  2> >(grep -v "^WARNING: Location" >&2)
if [ "$with_tests" = "--with-tests" ]; then
  "$target/venv/bin/pip" install --disable-pip-version-check -q -r "$root/requirements/robot-test.txt" \
    -c "$root/requirements/dev.txt" -c "$root/requirements/train.txt" 2> >(grep -v "^WARNING: Location" >&2)
fi
"$target/venv/bin/python" "$root/scripts/fix_ros_cmake_paths.py"
# shellcheck disable=SC1091
. "$target/venv/bin/activate"
cd "$root"
bash scripts/colcon_build.sh --packages-up-to ocelot_vla ocelot_bringup \
  --build-base "$target/build" --install-base "$target/install"
