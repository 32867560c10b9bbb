"""`ocelot eval` end to end over DDS: the gate rejects a camera that never moves and a broken model,
passes the oracle (ideal and pi4 robot profiles), gives identical metrics twice in lockstep under pi4, scores
a policy's own target estimate, and refuses bad input with exit 2."""

import json

import pytest
from ros_probe import run
from tiny_models import export_tiny_model

from ocelot_common.gate_binding import DEPLOY_ROBOT
from ocelot_common.processes import fresh_domain_id
from ocelot_eval.report import RESULTS_FILE
from ocelot_sim.robot_profile import load_profile

# Moving faces, one acquisition each: a controller that does not move cannot centre them.
SCENARIOS = """scenarios:
  - {seed: 10000, label_key: track, faces: [{motion: sine, speed: 0.3, distance_m: 2.0}]}
  - {seed: 10008, label_key: multi_left}
"""
FRAMES = "50"


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "two.yaml"
    path.write_text(SCENARIOS)
    return path


def evaluate(output, scenario_file, *extra):
    result = run(
        [
            "ocelot",
            "eval",
            "--scenarios",
            str(scenario_file),
            "--output",
            str(output),
            "--episode-frames",
            FRAMES,
            "--quiet",
            *extra,
        ],
        fresh_domain_id(),
        timeout=240,
    )
    report = output / RESULTS_FILE
    return result, (json.loads(report.read_text()) if report.exists() else None)


def test_oracle_passes_with_small_error_and_zero_controller_fails(tmp_path, scenario_file):
    result, report = evaluate(tmp_path / "oracle", scenario_file, "--controller", "oracle")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["pass"] and report["aggregate"]["mean_error_px"] <= 3.0
    assert report["aggregate"]["face_lost_rate"] < 0.05 and report["aggregate"]["frames"] == 100
    haar = report["aggregate"]["haar_vs_truth"]
    assert haar["mean_position_error_px"] < 3.0 and haar["wrong_matches"] == 0  # Haar agrees with truth
    assert haar["frames_in_view"] >= 95 and haar["misses"] <= 5
    assert {"error_over_time.png", "summary.md"} <= {p.name for p in (tmp_path / "oracle").iterdir()}
    assert report["robot"] == load_profile(DEPLOY_ROBOT).values()  # the default: the deploy gate's profile
    assert report["robot"]["command_latency_s"] > 0  # pi4's loop: a period late
    assert report["aggregate"]["frames_with_estimate"] == 0  # the oracle has no estimate to score

    result, report = evaluate(tmp_path / "oracle_ideal", scenario_file, "--controller", "oracle", "--robot", "ideal")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["robot"] == load_profile("ideal").values() and report["aggregate"]["mean_error_px"] <= 3.0
    assert "robot profile: ideal (command_latency_s 0.0" in (tmp_path / "oracle_ideal" / "summary.md").read_text()

    result, report = evaluate(tmp_path / "zero", scenario_file, "--controller", "zero")
    assert result.returncode == 1, result.stdout + result.stderr
    assert not report["pass"] and "FAIL" in result.stdout
    failed = [name for name, gate in report["gates"].items() if not gate["pass"]]
    assert "mean_error_px" in failed or "response_frames" in failed


def test_same_model_twice_in_lockstep_gives_identical_metrics_even_with_the_cpu_saturated(tmp_path, scenario_file):
    """In lockstep, time is the sim's: a machine busy with other work slows the run down, never changes it,
    under the pi4 profile too (latency, servo lag and motion blur are functions of sim time)."""
    import subprocess
    import sys

    model = export_tiny_model(tmp_path / "tiny", head_bias=(0.3, 0.1), previous_action=True, previous_target=True)
    runs = []
    for name in ("quiet", "loaded"):
        burners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3 if name == "loaded" else 0)
        ]
        try:
            result, report = evaluate(tmp_path / name, scenario_file, "--model", str(model), "--robot", "pi4")
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
        assert result.returncode in (0, 1) and report is not None, result.stdout + result.stderr
        runs.append(report)
    timing = ("latency_ms_p50", "latency_ms_p95")
    assert {k: v for k, v in runs[0]["aggregate"].items() if k not in timing} == {
        k: v for k, v in runs[1]["aggregate"].items() if k not in timing
    }
    frames = [
        [json.loads(line)["frames"] for line in (tmp_path / name / "episodes.jsonl").read_text().splitlines()]
        for name in ("quiet", "loaded")
    ]
    assert sorted(map(json.dumps, frames[0])) == sorted(map(json.dumps, frames[1]))  # frame by frame
    assert runs[0]["model_sha256"] == runs[1]["model_sha256"] and len(runs[0]["model_sha256"]) == 64
    assert runs[0]["robot"]["name"] == "pi4"
    # the policy's own target estimate is scored on every frame from the response on, per label too
    aggregate = runs[0]["aggregate"]
    assert aggregate["frames_with_estimate"] > 0 and aggregate["grounding_error_px"] > 0
    assert all(
        m["grounding_error_px"] is not None and m["control_error_px"] is not None for m in runs[0]["per_label"].values()
    )


def test_broken_model_fails_the_gate(tmp_path, scenario_file):
    broken = export_tiny_model(tmp_path / "broken", zero_head=True)  # head weights zeroed, exported as usual
    result, report = evaluate(tmp_path / "out", scenario_file, "--model", str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert not report["pass"]


@pytest.mark.parametrize(
    "scenarios, message",
    [
        ("scenarios: [\n", "is not valid YAML"),
        ("- {seed: 1, faces: [{texture: 'photo:mona_lisa'}]}\n", "unknown texture 'photo:mona_lisa'"),
        ("- {seed: 1, label_key: multi_up}\n", "unknown label 'multi_up'"),
    ],
)
def test_bad_scenario_files_exit_2_and_leave_no_report(tmp_path, scenarios, message):
    (tmp_path / "bad.yaml").write_text(scenarios)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / RESULTS_FILE).write_text('{"pass": true}')  # an old result must not survive
    result, report = evaluate(tmp_path / "out", tmp_path / "bad.yaml", "--controller", "oracle")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert report is None


def test_a_model_that_does_not_load_exits_2(tmp_path, scenario_file):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not an onnx graph")
    result, report = evaluate(tmp_path / "out", scenario_file, "--model", str(model))
    assert result.returncode == 2 and "the model cannot be loaded" in result.stderr, result.stderr
    assert report is None
    missing = evaluate(tmp_path / "out", scenario_file)[0]
    assert missing.returncode == 2 and "--model is required" in missing.stderr


@pytest.mark.parametrize(
    "robot, message",
    [
        ("pi5", "no robot profile 'pi5'; profiles: ideal, pi4"),
        ("bad.yaml", "does not exist"),
    ],
)
def test_an_unknown_robot_profile_exits_2(tmp_path, scenario_file, robot, message):
    result, report = evaluate(
        tmp_path / "out",
        scenario_file,
        "--controller",
        "oracle",
        "--robot",
        str(tmp_path / robot) if robot.endswith(".yaml") else robot,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert report is None
