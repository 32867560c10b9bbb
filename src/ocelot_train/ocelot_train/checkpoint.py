"""Reading a training checkpoint (best.pt, last.pt) without running code from it.

A checkpoint is a file people pass around; `torch.load(weights_only=False)` would run whatever a pickled
object in it asks for. Ocelot's checkpoints hold only tensors, numbers, strings, lists and dicts, which
`weights_only=True` accepts; anything else is refused before any of it runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch


class CheckpointError(ValueError):
    """The file is not a plain Ocelot checkpoint; the message says why."""


def read_checkpoint(path: str | Path) -> dict:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).splitlines()[0][:200]
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain values ({first}); refusing to "
            "load it, since loading would run code from the file. Use a checkpoint written by "
            "`ocelot train`"
        ) from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not an `ocelot train` checkpoint (no state_dict)")
    return checkpoint
