"""docker/: the images cannot be built here, so they are linted (hadolint) and held to the project's own steps."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [
        tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_both_images_exist():
    assert [p.name for p in DOCKERFILES] == ["pi.Dockerfile", "sim.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_no_warning(dockerfile):
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: `make setup` installs it (requirements/dev.txt)"
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_path_exists(dockerfile):
    for op, args in instructions(dockerfile):
        if op == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source} names nothing in the repository"


def test_sim_image_installs_with_make_setup_like_ci():
    runs = [args for op, args in instructions(ROOT / "docker" / "sim.Dockerfile") if op == "RUN"]
    assert any(args.startswith("make setup") for args in runs)
    base = next(args for op, args in instructions(ROOT / "docker" / "sim.Dockerfile") if op == "FROM")
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert f"container: {base}" in workflow  # the image CI tests on


def test_pi_image_builds_what_the_deploy_venv_builds():
    runs = " ".join(args for op, args in instructions(ROOT / "docker" / "pi.Dockerfile") if op == "RUN")
    deploy = (ROOT / "scripts" / "setup_deploy_venv.sh").read_text()
    build = "scripts/colcon_build.sh --packages-up-to ocelot_vla ocelot_bringup"
    assert build in runs and build in deploy
    assert "-r requirements/runtime.txt" in runs and "requirements/runtime.txt" in deploy
    assert not re.search(r"torch|mujoco|requirements/(train|sim|data)\.txt", runs)
