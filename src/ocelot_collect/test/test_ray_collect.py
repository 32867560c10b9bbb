"""`ocelot collect --ray`: the ranges a pass hands out (ROS-free), and on a local Ray instance with 2 workers
the same files, byte for byte, as a local collection of the same seeds, resuming around episodes already
there."""

import filecmp
import shutil

from ros_probe import run

from ocelot_collect.ray_collect import missing_runs
from ocelot_common.processes import fresh_domain_id
from ocelot_dataset.episode_io import complete_episodes


def test_missing_runs_cover_exactly_what_is_missing_in_contiguous_ranges():
    assert missing_runs(range(10, 20), set(), 2) == [(10, 5), (15, 5)]
    assert missing_runs(range(10, 20), {12, 13}, 2) == [(10, 2), (14, 4), (18, 2)]  # a gap splits a range
    assert missing_runs(range(0, 5), {0, 1, 2, 3, 4}, 3) == []
    assert missing_runs(range(0, 3), set(), 8) == [(0, 1), (1, 1), (2, 1)]
    for wanted, done, workers in ((range(0, 37), {3, 4, 20}, 4), (range(5, 9), {6}, 1)):
        covered = [ep for first, count in missing_runs(wanted, done, workers) for ep in range(first, first + count)]
        assert covered == [ep for ep in wanted if ep not in done]


def collect(output, *extra):
    cmd = ["ocelot", "collect", "--n-episodes", "4", "--output", str(output), "--base-seed", "40"]
    cmd += ["--warmup-frames", "3", "--episode-frames", "15", "--perturb-interval", "6", "--perturb-hold", "2"]
    result = run([*cmd, "--record", "--quiet", *extra], fresh_domain_id(), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_two_ray_workers_collect_the_same_files_as_a_local_collection(tmp_path):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    collect(local)
    (on_ray / "episodes").mkdir(parents=True)
    for episode in (1,):  # already there: resumed around, never collected again
        shutil.copy(complete_episodes(local)[episode], on_ray / "episodes")
    collect(on_ray, "--ray", "local", "--workers", "2")
    assert sorted(complete_episodes(on_ray)) == [0, 1, 2, 3]
    for episode, path in complete_episodes(local).items():
        assert filecmp.cmp(path, complete_episodes(on_ray)[episode], shallow=False), f"episode {episode} differs"
    for name in ("train.txt", "val.txt", "test.txt"):
        assert (local / name).read_text() == (on_ray / name).read_text()
    recordings = sorted(p.relative_to(on_ray) for p in (on_ray / "recordings").rglob("*") if p.is_file())
    assert len(recordings) == 2 * 3  # episodes 0, 2 and 3 were recorded on Ray: a bag each
    for name in recordings:
        assert filecmp.cmp(local / name, on_ray / name, shallow=False), f"{name} differs"
    checks = [
        run(["ocelot", "check-dataset", "--dataset", str(d), "--deep"], fresh_domain_id()) for d in (local, on_ray)
    ]
    assert "[OK] all files readable" in checks[1].stdout
    assert checks[0].stdout.replace(str(local), "DS") == checks[1].stdout.replace(str(on_ray), "DS")  # same verdicts
