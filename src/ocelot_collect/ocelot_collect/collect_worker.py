"""One collection worker: a sim + oracle + collector graph in a ROS domain of its own that records a
contiguous range of episodes into a folder, and what the CLI learns of it from the graph's own messages (the
collector's latched ~/progress, the lifecycle manager's health). `ocelot collect` runs K of them on this
machine; on Ray each task runs one (ocelot_collect.ray_collect).
"""

from __future__ import annotations

import argparse
import json

from ocelot_common.processes import LaunchProc, WaitTimeout, fresh_domain_id


def graph_arguments(args: argparse.Namespace, output: str, settings: dict, first: int, count: int) -> tuple[str, dict]:
    """The graph and its arguments for episodes [first, first + count) of a collection. `settings` are the
    collection's as a whole (recorded in every episode), so every shard's episodes say the same."""
    graph_args = {
        "output": output,
        "n_episodes": count,
        "base_seed": args.base_seed + first - args.base_ep,
        "base_ep": first,
        "warmup_frames": args.warmup_frames,
        "episode_frames": args.episode_frames,
        "perturb_interval": args.perturb_interval,
        "perturb_range": args.perturb_range,
        "perturb_hold": args.perturb_hold,
        "scenario_file": settings["scenarios"],
        "label_mix": args.label_mix,
        "write_index": "false",
        "settings_json": json.dumps(settings),
        "robot_profile": settings["robot"],
        "robot_randomise": settings["robot_randomise"],
        "record": "true" if args.record else "false",
    }
    if args.policy:
        graph_args["model_path"] = settings["policy"]["path"]
        return "collect_dagger", graph_args
    return "collect", graph_args


class CollectWorker:
    def __init__(self, graph: str, graph_args: dict, pass_fds: tuple[int, ...] = ()) -> None:
        from ocelot_common.graph_watch import GraphWatch
        from ocelot_msgs.msg import CollectionProgress

        self.domain = fresh_domain_id()
        cmd = ["ocelot", "launch", graph, *(f"{k}:={v}" for k, v in graph_args.items())]
        self.proc = LaunchProc(cmd, self.domain, pass_fds=pass_fds)
        self.watch = GraphWatch(self.domain, CollectionProgress, "/collector/progress")

    @property
    def finished(self) -> bool:
        return self.watch.progress is not None and self.watch.progress.finished

    def problem(self) -> str | None:
        """Why this worker cannot go on, if it cannot: a node died or hangs, a write failed, the graph ended."""
        if self.watch.dead_nodes:
            return (
                f"node '{self.watch.dead_nodes[0]}' died or hangs (its lifecycle manager reports it not alive); "
                "its last lines:\n" + "\n".join(self.proc.lines[-40:])
            )
        if self.watch.progress is not None and self.watch.progress.stopped:
            return self.watch.progress.last_message
        if self.proc.popen.poll() is not None and not self.finished:
            return "the worker's graph stopped early; its output:\n" + self.proc.output
        return None

    def stop(self) -> None:
        """Take the graph down (in the manager's order) and stop watching it."""
        self.watch.close()
        self.proc.signal()
        try:
            self.proc.wait(60)
        except WaitTimeout:
            self.proc.kill()
