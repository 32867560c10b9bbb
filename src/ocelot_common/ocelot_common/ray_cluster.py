"""Ray, for the work that spreads over machines (collection, evaluation, feature caching): joining a cluster
or starting one on this machine. Ray is imported only here and only when asked for: the robot never needs it.

Each Ray worker runs Ocelot's commands from its machine's own installation, so every machine of a cluster
has the workspace built and sourced (`source scripts/env.sh`) before `ray start`; a local instance started by
`connect("local")` inherits this process's environment.
"""

from __future__ import annotations

import os

LOCAL = "local"
TASK_CPUS = 1  # what one task holds: a worker stack (sim, oracle, collector or evaluator) keeps about a core busy


def connect(address: str, workers: int) -> None:
    """Join the cluster at `address`, or start Ray here for `local` with room for `workers` tasks at once."""
    import ray

    if ray.is_initialized():
        return
    options = {"log_to_driver": False, "configure_logging": False}
    if address == LOCAL:
        ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False, **options)
    else:
        ray.init(address=address, **options)


def disconnect() -> None:
    """Leave the cluster; a local instance started by `connect` goes down with it."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
