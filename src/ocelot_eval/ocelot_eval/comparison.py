"""Whether one model tracks better than another on the same scenarios: a paired comparison of two reports.

Two `ocelot eval` runs of one scenario set under one robot profile play the same seeded episodes, so each
episode is a pair. A set's mean moves by a fraction of a pixel between models that differ only in rounding,
and the episodes of a set differ by tens, so the question is whether the candidate's per-episode
differences are larger than their own spread: their mean, and its standard error over the episodes. A
difference within two standard errors is one the set cannot tell from chance. ROS-free: it reads only the
reports' `eval_results.json`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocelot_eval.report import RESULTS_FILE

NOISE_ERRORS = 2.0  # a difference within this many standard errors is called noise
MATCHED_FIELDS = ("mode", "robot")  # what two reports must share to be paired, with their scenario set


class ComparisonError(ValueError):
    """The two reports cannot be paired episode by episode; the message says why."""


@dataclass(frozen=True)
class PairedDifference:
    """Per-episode mean errors (px) of one set, or one label in it: candidate minus base."""

    name: str
    episodes: int
    base_px: float  # the mean of the base's per-episode means
    candidate_px: float
    difference_px: float  # the mean per-episode difference, candidate - base (negative: the candidate is better)
    standard_error_px: float  # of that mean (NaN with one episode)
    better: int  # episodes where the candidate's error is lower

    @property
    def verdict(self) -> str:
        noise = NOISE_ERRORS * self.standard_error_px
        if not math.isfinite(noise) or abs(self.difference_px) <= noise:
            return "within noise"
        return "better" if self.difference_px < 0 else "worse"


def load_report(path: str | Path) -> dict:
    """An evaluation report: a report folder or its eval_results.json."""
    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() else path
    try:
        report = json.loads(file.read_text())
    except FileNotFoundError:
        raise ComparisonError(f"{file} does not exist; point at a folder that `ocelot eval --output` wrote") from None
    except json.JSONDecodeError as exc:
        raise ComparisonError(f"{file} is not JSON ({exc}); rerun `ocelot eval` for it") from None
    if not isinstance(report, dict) or not isinstance(report.get("episodes"), list):
        raise ComparisonError(f"{file} has no `episodes` list; it is not an `ocelot eval` report")
    return report


def report_sets(folder: str | Path) -> dict[str, Path]:
    """Set name -> report folder: the folder itself when it holds a report, else each subfolder that does."""
    folder = Path(folder)
    if (folder / RESULTS_FILE).is_file():
        return {folder.name: folder}
    children = sorted(folder.iterdir()) if folder.is_dir() else []
    sets = {child.name: child for child in children if (child / RESULTS_FILE).is_file()}
    if not sets:
        raise ComparisonError(f"{folder} holds no {RESULTS_FILE}, nor any subfolder with one")
    return sets


def _episodes(report: dict) -> dict[tuple[int, int], dict]:
    """(place in the set, seed) -> the episode's row: a scenario file may hold one seed twice, with other
    overrides, so the seed alone does not name an episode."""
    return {(int(row.get("index", i)), int(row["seed"])): row for i, row in enumerate(report["episodes"])}


def _episode_errors(episodes: dict[tuple[int, int], dict]) -> dict[tuple[int, int], tuple[str, float]]:
    """episode -> (label, per-episode mean error); episodes that never saw the face (no mean) are left out."""
    out = {}
    for key, row in episodes.items():
        error = row.get("mean_error_px")
        if error is not None and math.isfinite(float(error)):
            out[key] = (str(row["label_key"]), float(error))
    return out


def scenario_identity(report: dict) -> str:
    """The scenario set a report played: its content's sha256 where the report binds it, else the file's name
    (a checkout elsewhere holds the same set under another path)."""
    digest = (report.get("binding") or {}).get("scenarios_sha256")
    return f"sha256 {digest}" if digest else Path(str(report.get("scenario_file"))).name


def _check_pairable(base: dict, candidate: dict, episodes: tuple[dict, dict]) -> None:
    sets = scenario_identity(base), scenario_identity(candidate)
    if sets[0] != sets[1]:
        raise ComparisonError(
            f"the reports played different scenario sets ({base.get('scenario_file')}, {sets[0]} against "
            f"{candidate.get('scenario_file')}, {sets[1]}); evaluate both on the same scenario file"
        )
    for name in MATCHED_FIELDS:
        if base.get(name) != candidate.get(name):
            raise ComparisonError(
                f"the reports differ in `{name}` ({base.get(name)!r} against {candidate.get(name)!r}); "
                "compare two evaluations under the same mode and robot profile"
            )
    if set(episodes[0]) != set(episodes[1]):
        only = sorted({seed for _, seed in set(episodes[0]) ^ set(episodes[1])})
        raise ComparisonError(
            f"the reports played different episodes (seeds in one only: {only[:5]}{' ...' if len(only) > 5 else ''}); "
            "evaluate both on the same scenario file"
        )


def _paired(name: str, pairs: list[tuple[float, float]]) -> PairedDifference:
    base, candidate = np.array(pairs, np.float64).T
    difference = candidate - base
    error = float(difference.std(ddof=1) / math.sqrt(len(difference))) if len(difference) > 1 else math.nan
    return PairedDifference(
        name, len(pairs), float(base.mean()), float(candidate.mean()), float(difference.mean()), error,
        int((difference < 0).sum()),
    )  # fmt: skip


def compare(base: dict, candidate: dict, name: str = "all") -> list[PairedDifference]:
    """The set's paired difference, then each label's (sorted by name); raises ComparisonError when the two
    reports are not of the same episodes. Episodes with no mean in either report are left out of both."""
    episodes = _episodes(base), _episodes(candidate)
    _check_pairable(base, candidate, episodes)
    before, after = (_episode_errors(played) for played in episodes)
    both = sorted(set(before) & set(after))
    if not both:
        raise ComparisonError("no episode has a mean error in both reports")
    rows = [_paired(name, [(before[e][1], after[e][1]) for e in both])]
    for label in sorted({before[e][0] for e in both}):
        rows.append(_paired(label, [(before[e][1], after[e][1]) for e in both if before[e][0] == label]))
    return rows


def comparison_lines(set_name: str, rows: list[PairedDifference]) -> list[str]:
    """A text table of one set's comparison."""
    lines = [
        f"{set_name}: candidate - base, per-episode mean error (px)",
        f"  {'':14s} {'episodes':>8s} {'base':>7s} {'cand.':>7s} {'diff':>7s} {'+/- se':>7s} {'better in':>9s}"
        "  verdict",
    ]
    for row in rows:
        lines.append(
            f"  {row.name:14s} {row.episodes:8d} {row.base_px:7.2f} {row.candidate_px:7.2f} {row.difference_px:+7.2f} "
            f"{row.standard_error_px:7.2f} {row.better:5d}/{row.episodes:<3d}  {row.verdict}"
        )
    return lines
