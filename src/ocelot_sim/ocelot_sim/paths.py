"""Where the world files are: installed with the package, or the checkout's worlds/."""
from __future__ import annotations

from pathlib import Path

WORLD_FILE = "ocelot_world.xml"


def worlds_dir() -> Path:
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory("ocelot_sim")) / "worlds"
        if (installed / WORLD_FILE).is_file():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    for parent in Path(__file__).resolve().parents:
        if (parent / "worlds" / WORLD_FILE).is_file():
            return parent / "worlds"
    raise FileNotFoundError(f"cannot find worlds/{WORLD_FILE}; build the workspace with `make setup`")
