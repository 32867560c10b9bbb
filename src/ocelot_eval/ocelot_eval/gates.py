"""Deploy gates (ROS-free): thresholds from config/gates.yaml, checked against a metrics dict.

A gate whose metric is missing (None: no detected frame, no multi-face episode)
fails, except target_selection on a scenario set without multi-face episodes,
which does not apply and is reported as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ocelot_common.config_files import installed_share_file, read_yaml

NOT_APPLICABLE_WHEN_MISSING = {"target_selection"}
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "gates.yaml"


class GateConfigError(ValueError):
    """The gates file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Gate:
    metric: str
    kind: str  # "max": value < threshold; "min": value >= threshold
    threshold: float

    def check(self, value) -> dict:
        applies = not (value is None and self.metric in NOT_APPLICABLE_WHEN_MISSING)
        ok = (
            value is not None
            and math.isfinite(value)
            and (value < self.threshold if self.kind == "max" else value >= self.threshold)
        )
        return {
            "metric": self.metric,
            "kind": self.kind,
            "threshold": self.threshold,
            "value": value,
            "applies": applies,
            "pass": ok or not applies,
        }


def default_gates_file() -> Path:
    """The installed gates.yaml, or the source tree's when running from a checkout."""
    return installed_share_file("ocelot_eval", "config/gates.yaml") or DEFAULT_FILE


def gate_section(path: str | Path | None = None, section: str = "closed_loop") -> dict:
    """One section of a gates file as parsed (metric -> {max|min: number}); what a report's binding hashes."""
    path = Path(path) if path else default_gates_file()
    raw = read_yaml(path, "gates file", GateConfigError)
    if not isinstance(raw, dict) or not isinstance(raw.get(section), dict) or not raw[section]:
        raise GateConfigError(f"gates file {path} needs a '{section}' mapping of metric -> {{max|min: number}}")
    return raw[section]


def load_gates(
    path: str | Path | None = None, section: str = "closed_loop", known: set[str] | None = None
) -> list[Gate]:
    """The gates of one section; with `known`, a gate on any other metric is an error (found before a run)."""
    path = Path(path) if path else default_gates_file()
    gates = []
    for metric, rule in gate_section(path, section).items():
        if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in ("max", "min"):
            raise GateConfigError(
                f"{path}: {section}.{metric} must be {{max: number}} or {{min: number}}, got {rule!r}"
            )
        kind, threshold = next(iter(rule.items()))
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise GateConfigError(f"{path}: {section}.{metric}.{kind} must be a number, got {threshold!r}")
        if known is not None and metric not in known:
            raise GateConfigError(f"{path}: {section}.{metric}: unknown metric; metrics: {', '.join(sorted(known))}")
        gates.append(Gate(str(metric), kind, float(threshold)))
    return gates


def check_gates(gates: list[Gate], metrics: dict) -> tuple[bool, dict]:
    """(all passed, {metric: gate result}). A gate naming a metric the report lacks is a config error."""
    unknown = [g.metric for g in gates if g.metric not in metrics]
    if unknown:
        raise GateConfigError(f"gate on unknown metric '{unknown[0]}'; metrics: {', '.join(sorted(metrics))}")
    results = {g.metric: g.check(metrics[g.metric]) for g in gates}
    return all(r["pass"] for r in results.values()), results
