"""Training reads datasets; it does not collect them: no module of ocelot_train (or of the dataset package it
reads) imports the collection, the oracle, the sim, MuJoCo or rclpy, at the top or inside a function."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "ocelot_train": {"ocelot_collect", "ocelot_oracle", "ocelot_sim", "ocelot_eval", "mujoco", "rclpy"},
    "ocelot_dataset": {"ocelot_collect", "ocelot_oracle", "ocelot_sim", "ocelot_train", "mujoco", "rclpy", "torch"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_modules_import_none_of_the_forbidden_packages(package):
    modules = sorted((SRC / package / package).glob("*.py"))
    assert modules
    offending = {m.name: sorted(imported_packages(m) & FORBIDDEN[package]) for m in modules}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_check_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ocelot_sim.rig import PanTiltSim\n    import mujoco.viewer\n")
    assert imported_packages(module) == {"ocelot_sim", "mujoco"}


def test_importing_the_training_package_loads_no_sim():
    modules = [
        f"ocelot_train.{m.stem}"
        for m in sorted((SRC / "ocelot_train" / "ocelot_train").glob("*.py"))
        if m.stem != "__init__"
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted(n for n in sys.modules if n.split('.')[0] in ('ocelot_sim', 'ocelot_collect', "
        "'ocelot_oracle', 'mujoco', 'rclpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
