"""Encoder backends by name: a vision or text encoder is added by registering its builder, nothing else.

    @VISION_BACKENDS.register("resnet18", needs_pretrained=True)
    def _resnet18(config: VisionConfig, pretrained_weights: bool) -> VisionEncoder: ...

The configuration validates `model.vision.backend` / `model.text.backend` against these
tables (and whether the backend needs `pretrained`); `build_vision_encoder` and
`build_text_encoder` look the builder up here. The encoders register in
`encoders_vision.py` and `encoders_text.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Backend:
    name: str
    build: Callable[..., Any]
    needs_pretrained: bool  # `pretrained` must name the weights (a hub id in the local cache or a directory)
    always_trains: bool  # no pretrained weights to keep: trained with the policy, `frozen` does not apply


class BackendRegistry:
    def __init__(self, kind: str) -> None:
        self.kind = kind  # "vision" or "text": the config section, model.<kind>.backend
        self._backends: dict[str, Backend] = {}

    def register(
        self, name: str, *, needs_pretrained: bool = False, always_trains: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(build: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._backends:
                raise ValueError(f"a {self.kind} backend named {name!r} is registered twice")
            self._backends[name] = Backend(name, build, needs_pretrained, always_trains)
            return build

        return add

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._backends)

    def __getitem__(self, name: str) -> Backend:
        return self._backends[name]

    def problem(self, name: str, pretrained: str) -> str | None:
        """What is wrong with `model.<kind>.backend: name` (and its `pretrained`); None: nothing."""
        if name not in self._backends:
            return f"model.{self.kind}.backend {name!r} is not one of {', '.join(self.names)}"
        if self._backends[name].needs_pretrained and not pretrained:
            return (
                f"model.{self.kind}.backend {name} needs model.{self.kind}.pretrained: a hub id or a local "
                "directory with config.json and weights"
            )
        return None


VISION_BACKENDS = BackendRegistry("vision")
TEXT_BACKENDS = BackendRegistry("text")


def registered() -> tuple[BackendRegistry, BackendRegistry]:
    """Both tables, filled: importing the encoder modules registers their backends."""
    import ocelot_train.encoders_text  # noqa: F401
    import ocelot_train.encoders_vision  # noqa: F401

    return VISION_BACKENDS, TEXT_BACKENDS
