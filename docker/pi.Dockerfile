# The robot: arm64 runtime on the ROS 2 Kilted base image (ROS from apt, as on the Pi). Only ocelot_vla and
# ocelot_bringup are built; no torch, no MuJoCo. The same steps as README "Deploying to a Raspberry Pi".
#   docker buildx build --platform linux/arm64 -f docker/pi.Dockerfile -t ocelot-pi .
#   docker run --rm --net=host -v /path/to/model:/model ocelot-pi \
#     ocelot launch deploy model_path:=/model/model.onnx eval_report:=/model/eval_results.json
FROM ros:kilted-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /ocelot
# apt versions follow the base image's tag (a pin would break with each of its point releases)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-pip python3-numpy python3-opencv python3-yaml \
    && rm -rf /var/lib/apt/lists/*
# onnxruntime and tokenizers, pinned: the versions the gate measured (manylinux aarch64 wheels)
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip3 install --no-cache-dir --break-system-packages -r requirements/runtime.txt
COPY scripts/colcon_build.sh scripts/colcon_build.sh
COPY src/ src/
RUN source /opt/ros/kilted/setup.bash \
    && bash scripts/colcon_build.sh --packages-up-to ocelot_vla ocelot_bringup \
    && rm -rf build log
COPY docker/pi_entrypoint.sh /ocelot_entrypoint.sh
ENTRYPOINT ["/ocelot_entrypoint.sh"]
CMD ["ocelot", "launch", "--list"]
