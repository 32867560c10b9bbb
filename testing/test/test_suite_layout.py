"""What the suite and CI promise about themselves: every opt-in marker selects tests, and the deploy-gate job
runs the gate whenever it cannot tell what changed."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def declared_markers() -> list[str]:
    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    return [line.split(":")[0].strip() for line in ini["pytest"]["markers"].strip().splitlines()]


@pytest.mark.parametrize("marker", declared_markers())
def test_every_opt_in_marker_selects_tests(marker):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", marker, "-p", "no:session_processes"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    selected = [line for line in result.stdout.splitlines() if "::" in line]
    assert selected, f"-m {marker} selects no test:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def gate_step_output(base: str, repo: Path) -> str:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    step = next(s for s in workflow["jobs"]["deploy-gate"]["steps"] if s.get("id") == "changes")
    script = step["run"].replace("${{ github.event.pull_request.base.sha || github.event.before }}", base)
    output = repo / "github_output"
    output.write_text("")
    subprocess.run(
        ["bash", "-c", script],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(repo)},
    )
    return output.read_text().strip()


def test_the_gate_job_runs_when_the_base_cannot_be_compared(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "README.md").write_text("a\n")
    subprocess.run([*git, "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "a"], check=True)
    first = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("x = 1\n")
    subprocess.run([*git, "-C", str(tmp_path), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "b"], check=True)
    assert gate_step_output(first, tmp_path) == "gate=true"  # src/ changed
    assert gate_step_output("HEAD", tmp_path) == "gate=false"  # nothing changed
    assert gate_step_output("0" * 40, tmp_path) == "gate=true"  # a new branch: github.event.before is zeros
    assert gate_step_output("", tmp_path) == "gate=true"
