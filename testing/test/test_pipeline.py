"""The DVC pipeline (dvc.yaml, params.yaml): its chain of stages, and the tiny profile run end to end in a
temporary git repository - `dvc repro`, `dvc push`, a second clone, `dvc pull` - with every output the
same, byte for byte."""

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ocelot_common.processes import fresh_domain_id
from ocelot_common.ros_env import ros_environment

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "training" / "pipeline_tiny"
CHAIN = ["merge", "features", "train", "export"]


def dvc(*args: str, cwd: Path, timeout: float = 120) -> str:
    """Run dvc; its output goes through a file, not a pipe (a daemon dvc leaves behind would hold a pipe open)."""
    env = ros_environment(domain_id=fresh_domain_id())
    env.update(DVC_NO_ANALYTICS="1", DVC_NO_UPDATER="1")
    log = cwd.parent / f"dvc-{args[0]}.log"
    with open(log, "w") as out:
        result = subprocess.run(["dvc", *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    output = log.read_text()
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{output[-6000:]}"
    return output


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ocelot-test", "-c", "user.email=test@ocelot.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


def edges(dag_markdown: str) -> set[tuple[str, str]]:
    """(from, to) stage names of `dvc dag --md`'s mermaid chart."""
    names = {}
    pairs = set()
    for line in dag_markdown.splitlines():
        line = line.strip()
        if line.startswith("node") and "[" in line:
            node, name = line.split("[", 1)
            names[node] = name.strip('"]')
        elif "-->" in line:
            a, b = line.split("-->")
            pairs.add((a, b))
    return {(names[a], names[b]) for a, b in pairs}


def assert_chain(dag: set[tuple[str, str]], params: dict) -> None:
    rounds = [f"collect@{r}" for r in params["collect"]["rounds"]]
    rounds += [f"dagger@{r}" for r in params["collect"]["dagger_rounds"]]
    for stage in rounds:
        assert (stage, "merge") in dag, f"{stage} does not feed merge: {sorted(dag)}"
    for a, b in zip(CHAIN, CHAIN[1:]):
        assert (a, b) in dag, f"{a} -> {b} missing: {sorted(dag)}"
    for gate_set in params["gate"]["sets"]:
        assert ("export", f"gate@{gate_set}") in dag


def test_the_shipped_recipe_is_the_chain_collect_features_train_export_gate():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(params["gate"]["sets"]) == {"standard", "photo"}
    assert_chain(edges(dvc("dag", "--md", cwd=REPO)), params)


def outputs(root: Path) -> dict[str, Path]:
    """Every file of the pipeline's outputs (not the MLflow store beside them), by path under root."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    files = {}
    for stage in lock["stages"].values():
        for out in stage["outs"]:
            path = root / out["path"]
            for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
                files[str(file.relative_to(root))] = file
    return files


@pytest.mark.timeout(900)
def test_tiny_profile_repro_push_and_pull_into_a_second_clone_give_the_same_files(tmp_path):
    work, clone, remote = tmp_path / "work", tmp_path / "clone", tmp_path / "remote"
    (work / "training").mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, work / name)
    shutil.copy(TINY / "params.yaml", work / "params.yaml")
    shutil.copytree(TINY, work / "training" / TINY.name)
    shutil.copytree(REPO / "models" / "default", work / "models" / "default", ignore=shutil.ignore_patterns("eval"))
    git("init", "-q", cwd=work)
    dvc("init", "-q", cwd=work)
    dvc("config", "core.analytics", "false", cwd=work)
    dvc("config", "core.check_update", "false", cwd=work)
    dvc("remote", "add", "-d", "local", str(remote), cwd=work)
    params = yaml.safe_load((work / "params.yaml").read_text())
    assert_chain(edges(dvc("dag", "--md", cwd=work)), params)

    dvc("repro", cwd=work, timeout=700)
    for gate_set in params["gate"]["sets"]:
        assert (work / "pipeline" / "gate" / gate_set / "eval_results.json").is_file()
    features = yaml.safe_load((work / "pipeline" / "features" / "features.json").read_text())
    assert features["cached"] and list((work / "pipeline" / "features").glob("vision_*/ep_*.f16"))
    assert "didn't change" in dvc("repro", cwd=work) and "Running stage" not in dvc("repro", cwd=work)

    # a changed parameter reaches only the stages that use it
    changed = dict(params, gate=dict(params["gate"], episode_frames=params["gate"]["episode_frames"] - 5))
    (work / "params.yaml").write_text(yaml.safe_dump(changed))
    status = dvc("status", cwd=work)
    assert "gate@standard" in status and "gate@photo" in status
    assert not any(f"{stage}:" in status for stage in ["collect@r1", "dagger@r2", *CHAIN]), status
    (work / "params.yaml").write_text(yaml.safe_dump(params))

    dvc("push", cwd=work, timeout=300)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "tiny pipeline", cwd=work)
    git("clone", "-q", str(work), str(clone), cwd=tmp_path)
    assert not (clone / "pipeline" / "dataset").exists()  # the data is in the remote, not in git
    dvc("pull", cwd=clone, timeout=300)

    ours, theirs = outputs(work), outputs(clone)
    assert ours.keys() == theirs.keys() and len(ours) > 20
    different = [name for name in ours if not filecmp.cmp(ours[name], theirs[name], shallow=False)]
    assert not different, f"pulled files differ: {different}"
    assert any(name.endswith(".h5") for name in ours) and "pipeline/model/model.onnx" in ours
    assert "up to date" in dvc("status", cwd=clone)
