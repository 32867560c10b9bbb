# Source me: the environment every Ocelot command runs in (venv, workspace, ROS settings).
_ocelot_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$_ocelot_root/.venv/bin/activate"
if [ -f "$_ocelot_root/install/setup.bash" ]; then
  # colcon's scripts read unset variables; keep callers' `set -u` out of them.
  _ocelot_nounset=$(set +o | grep nounset); set +u
  # shellcheck disable=SC1091
  . "$_ocelot_root/install/setup.bash"
  eval "$_ocelot_nounset"
fi
# The venv is an ament prefix too: where ../shared/ros2-tooling installed `ros2 launch`, `ros2 lifecycle` and
# launch_testing into it (make setup), `ros2 pkg prefix launch_ros` and launch's package lookups find them there.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$_ocelot_root/.venv:"*) ;;
  *) export AMENT_PREFIX_PATH="$_ocelot_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
# DDS stays on this machine; an explicit domain keeps separate stacks apart.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export MUJOCO_GL="${MUJOCO_GL:-egl}"
# Large camera frames: shared memory / TCP for data, UDP only for discovery (see ocelot_common/ros_env.py).
export FASTDDS_BUILTIN_TRANSPORTS="${FASTDDS_BUILTIN_TRANSPORTS:-LARGE_DATA}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_ocelot_root/src/ocelot_common/ocelot_common/fastdds_profile.xml}"
export MLFLOW_DISABLE_TELEMETRY=true
export OCELOT_ROOT="$_ocelot_root"
unset _ocelot_root _ocelot_nounset
