"""Finding and reading the packages' data files (YAML configs, worlds), with errors that name the file.

Installed files live under share/<package>/ of the colcon workspace; from a
plain checkout the caller falls back to its source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def installed_share_file(package: str, relative: str) -> Path | None:
    """share/<package>/<relative> of the installed workspace, or None when it is not installed there."""
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory(package)) / relative
    except (ImportError, LookupError, ValueError):
        return None
    return installed if installed.is_file() else None


def read_yaml(path: str | Path, what: str, error: type[Exception]) -> Any:
    """The parsed file; `error` (naming `what` and the path) when it cannot be read or is not YAML."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from None
