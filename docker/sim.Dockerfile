# Simulation, training and the deploy gate: Debian 12 and the project's own set-up (`make setup`: Debian
# packages, the venv with the pinned wheels, the colcon build), the same steps CI runs.
#   docker build -f docker/sim.Dockerfile -t ocelot-sim .
#   docker run --rm ocelot-sim                 # make eval: the gate on the shipped model
#   docker run --rm ocelot-sim make test
FROM python:3.11-bookworm
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /ocelot
ENV PIP_NO_CACHE_DIR=1
COPY Makefile ./
COPY scripts/ scripts/
COPY requirements/ requirements/
COPY src/ src/
COPY worlds/ worlds/
COPY training/ training/
COPY models/ models/
COPY bench/ bench/
COPY pytest.ini ./
RUN make setup && rm -rf /var/lib/apt/lists/*
CMD ["make", "eval"]
