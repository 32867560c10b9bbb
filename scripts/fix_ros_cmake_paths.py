"""Rewrite the build machine's paths baked into the ROS wheels' CMake export files.

The message wheels were built under /opt/python/cp3XX-cp3XX, and their exported
targets name that interpreter's include directory and numpy's. CMake refuses
targets whose include directories do not exist, so any package that generates
Python message bindings (ocelot_msgs) fails to configure until they point at
this venv's interpreter. Idempotent: a second run finds nothing to rewrite.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

BAKED = re.compile(r"/opt/python/cp3\d+-cp3\d+(?:/[^;\"\s)]*)?")


def replacement(baked: str, python_include: str, numpy_include: str) -> str:
    if baked.endswith("numpy/_core/include") or baked.endswith("numpy/core/include"):
        return numpy_include
    if re.search(r"/include/python3\.\d+$", baked):
        return python_include
    return baked


def rewrite_tree(prefix: Path, python_include: str, numpy_include: str) -> list[Path]:
    changed = []
    for path in (prefix / "share").glob("*/cmake/*.cmake"):
        text = path.read_text()
        if "/opt/python/" not in text:
            continue
        new = BAKED.sub(lambda m: replacement(m.group(0), python_include, numpy_include), text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def main() -> int:
    import numpy

    prefix = Path(sys.prefix)
    changed = rewrite_tree(prefix, sysconfig.get_paths()["include"], numpy.get_include())
    print(f"fix_ros_cmake_paths: rewrote {len(changed)} CMake file(s) under {prefix / 'share'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
