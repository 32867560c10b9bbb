"""Loading pretrained transformers models without the network: a local directory, or the local cache only."""

from __future__ import annotations

import os
from pathlib import Path


class PretrainedUnavailable(FileNotFoundError):
    """The named weights are not on this machine; the message says how to provide them."""


def load_pretrained(cls, source: str, what: str, **kwargs):
    """cls.from_pretrained(source) from a local directory or the local hub cache; never downloads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads at run time
    from transformers.utils import logging

    logging.set_verbosity_error()  # load reports list the pooler we leave out on purpose
    logging.disable_progress_bar()
    path = Path(source).expanduser()
    local = path.is_dir()
    try:
        return cls.from_pretrained(str(path) if local else source, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        if local:
            raise PretrainedUnavailable(
                f"the {what} directory {path} cannot be loaded ({exc}); it must hold what "
                "save_pretrained() writes (config.json and the weights)"
            ) from None
        raise PretrainedUnavailable(
            f"the {what} '{source}' is not available locally and nothing is downloaded at run time. On a machine "
            f"with access, run: python -c \"import transformers as t; t.{cls.__name__}.from_pretrained('{source}')"
            f".save_pretrained('DIR')\", copy DIR here and set the config's pretrained: DIR"
        ) from None
