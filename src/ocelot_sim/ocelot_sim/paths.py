"""Where the world files are: installed with the package, or the checkout's worlds/."""

from __future__ import annotations

from pathlib import Path

from ocelot_common.config_files import installed_share_file

WORLD_FILE = "ocelot_world.xml"


def worlds_dir() -> Path:
    installed = installed_share_file("ocelot_sim", f"worlds/{WORLD_FILE}")
    if installed is not None:
        return installed.parent
    for parent in Path(__file__).resolve().parents:
        if (parent / "worlds" / WORLD_FILE).is_file():
            return parent / "worlds"
    raise FileNotFoundError(f"cannot find worlds/{WORLD_FILE}; build the workspace with `make setup`")
