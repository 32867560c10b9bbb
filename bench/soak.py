"""Soak: the eval graph (sim + VLA + evaluator) in real time for 30 minutes; memory and latency per minute.

    python bench/soak.py [--minutes 30] [--model models/default/model.onnx] [--json soak.json]

Each minute: the resident memory (RSS, the node's process and its children) of every node, and the
p50/p95 of the VLA node's image-to-command latency (its ~/status) over that minute. Fails (exit 1)
when a node's RSS at the end exceeds its RSS after the warm-up (5 minutes) by more than 10 %, when a
node dies, or when the VLA stops answering.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("track", "multi_left", "multi_right", "multi_closest", "multi_attr")
EPISODE_SECONDS = 10.0  # 100 frames at the sim's 10 Hz camera


def scenario_file(path: Path, minutes: float) -> Path:
    """Enough never-collected scenarios (seeds 30000+) that the evaluator never runs out."""
    count = int(math.ceil(minutes * 60 / EPISODE_SECONDS)) + 20
    entries = [{"seed": 30000 + i, "label_key": LABELS[i % len(LABELS)]} for i in range(count)]
    path.write_text(yaml.safe_dump({"scenarios": entries}))
    return path


def rss_mib(pid: int) -> float:
    """RSS of a process and its descendants (Linux /proc), MiB; 0 when it is gone."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="memory is compared from here on")
    parser.add_argument("--max-growth", type=float, default=0.10, help="allowed RSS growth after the warm-up")
    parser.add_argument("--model", default=str(ROOT / "models" / "default" / "model.onnx"))
    parser.add_argument("--json", help="write the per-minute samples here")
    args = parser.parse_args()
    os.environ.setdefault("OCELOT_ROOT", str(ROOT))

    from ocelot_common.processes import LaunchProc, WaitTimeout, fresh_domain_id, sigterm_as_interrupt

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "testing"))  # the probe node

    from ros_probe import RosProbe

    from ocelot_msgs.msg import PolicyStatus

    sigterm_as_interrupt()  # a terminated soak still takes its graph down

    domain = fresh_domain_id()
    with tempfile.TemporaryDirectory(prefix="ocelot-soak-") as tmp:
        scenarios = scenario_file(Path(tmp) / "soak_scenarios.yaml", args.minutes)
        graph = LaunchProc(
            [
                "ocelot",
                "launch",
                "eval",
                f"model_path:={args.model}",
                f"scenario_file:={scenarios}",
                f"output:={tmp}/eval",
                "lockstep:=false",
            ],
            domain,
        )
        probe = RosProbe(domain, "soak")
        latencies: list[float] = []
        probe.node.create_subscription(PolicyStatus, "/vla/status", lambda m: latencies.append(m.latency_ms), 100)
        samples, problem = [], None
        try:
            graph.wait_line("graph 'eval' active", 120)
            pids = graph.node_pids()
            print(
                f"eval graph in real time on ROS_DOMAIN_ID={domain}, model {args.model}; "
                f"{args.minutes:g} min, one sample per minute",
                flush=True,
            )
            widths = {n: max(len(n) + 4, 9) for n in pids}
            print(
                f"{'min':>4} " + " ".join(f"{n + ' MiB':>{widths[n]}}" for n in pids) + f" {'frames':>7} "
                f"{'p50 ms':>7} {'p95 ms':>7}",
                flush=True,
            )
            start = time.monotonic()
            for minute in range(1, int(math.ceil(args.minutes)) + 1):
                latencies.clear()
                end = start + minute * 60
                probe.spin_until(lambda end=end: time.monotonic() >= end, 120, "the minute to pass")
                rss = {name: rss_mib(pid) for name, pid in pids.items()}
                lat = list(latencies)
                sample = {
                    "minute": minute,
                    "rss_mib": rss,
                    "frames": len(lat),
                    "latency_p50_ms": float(np.percentile(lat, 50)) if lat else None,
                    "latency_p95_ms": float(np.percentile(lat, 95)) if lat else None,
                }
                samples.append(sample)
                cells = " ".join(f"{v:{widths[n]}.1f}" for n, v in rss.items())
                p50, p95 = (f"{sample[k]:7.1f}" if lat else "      -" for k in ("latency_p50_ms", "latency_p95_ms"))
                print(f"{minute:4d} {cells} {len(lat):7d} {p50} {p95}", flush=True)
                died = [ln for ln in graph.lines if "died" in ln and "[ocelot launch]" in ln]
                if died or not lat or any(v == 0 for v in rss.values()):
                    problem = died[0] if died else "a node is gone" if lat else "the VLA node stopped answering"
                    break
        finally:
            probe.close()
            graph.signal()
            try:
                graph.wait(60)
            except WaitTimeout:
                graph.kill()
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))
    return report(samples, args, problem)


def report(samples: list[dict], args, problem: str | None) -> int:
    if problem:
        print(f"FAIL: {problem}")
        return 1
    base = next((s for s in samples if s["minute"] >= args.warmup_minutes), samples[0])
    last = samples[-1]
    failed = False
    print(f"\nRSS after warm-up (minute {base['minute']}) -> end (minute {last['minute']}):")
    for name, before in base["rss_mib"].items():
        after = last["rss_mib"][name]
        growth = (after - before) / before
        ok = growth <= args.max_growth
        failed |= not ok
        print(
            f"  {name:>17}: {samples[0]['rss_mib'][name]:7.1f} MiB at minute 1, {before:7.1f} -> {after:7.1f} MiB "
            f"({growth:+.1%}) {'ok' if ok else f'FAIL (> {args.max_growth:.0%})'}"
        )
    print(
        f"VLA latency p95: first minute {samples[0]['latency_p95_ms']:.1f} ms, last minute "
        f"{last['latency_p95_ms']:.1f} ms; frames answered per minute {samples[0]['frames']} .. {last['frames']}"
    )
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
