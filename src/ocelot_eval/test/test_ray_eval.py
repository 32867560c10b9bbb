"""`ocelot eval --ray local --workers 2`: scenarios sharded over two Ray tasks give the single-process run's
report (every metric, per label and per episode, frame by frame), apart from wall-clock timings."""

import json
from pathlib import Path

from ros_probe import run

from ocelot_common.processes import fresh_domain_id
from ocelot_eval.ray_eval import shards
from ocelot_eval.report import RESULTS_FILE

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "default" / "model.onnx"
SCENARIOS = """\
scenarios:
  - {seed: 10000, label_key: track}
  - {seed: 10008, label_key: multi_left}
  - {seed: 10017, label_key: multi_attr}
"""


def test_shards_are_contiguous_and_cover_the_set():
    assert shards(5, 2) == [range(0, 3), range(3, 5)]
    assert shards(2, 4) == [range(0, 1), range(1, 2)]
    assert shards(3, 1) == [range(0, 3)]


def without_timings(value):
    """The report less what the wall clock measures (latencies, run time) and where the files were."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if "latency" not in k and k not in ("wall_seconds",)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def evaluate(output: Path, scenarios: Path, *extra: str) -> dict:
    cmd = ["ocelot", "eval", "--model", str(MODEL), "--scenarios", str(scenarios), "--output", str(output)]
    result = run([*cmd, "--episode-frames", "30", "--robot", "pi4", "--quiet", *extra], fresh_domain_id(), 400)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads((output / RESULTS_FILE).read_text())


def test_a_ray_sharded_eval_gives_the_single_process_report(tmp_path):
    scenarios = tmp_path / "set.yaml"
    scenarios.write_text(SCENARIOS)
    single = evaluate(tmp_path / "single", scenarios)
    sharded = evaluate(tmp_path / "ray", scenarios, "--ray", "local", "--workers", "2")
    assert [row["index"] for row in sharded["episodes"]] == [0, 1, 2]
    assert without_timings(sharded) == without_timings(single)
    frames = [
        [json.loads(line)["frames"] for line in (tmp_path / name / "episodes.jsonl").read_text().splitlines()]
        for name in ("single", "ray")
    ]
    assert frames[0] == frames[1]  # frame by frame, in order


def test_ray_options_are_checked_before_anything_starts(tmp_path):
    scenarios = tmp_path / "set.yaml"
    scenarios.write_text(SCENARIOS)
    base = ["ocelot", "eval", "--controller", "oracle", "--scenarios", str(scenarios), "--output", str(tmp_path)]
    for extra, message in (
        (["--ray", "local", "--record"], "--record is not available with --ray"),
        (["--ray", "local", "--workers", "0"], "--workers must be > 0"),
        (["--ray", " "], "--ray needs an address"),
    ):
        result = run([*base, *extra], fresh_domain_id())
        assert result.returncode == 2 and message in result.stderr, result.stderr
