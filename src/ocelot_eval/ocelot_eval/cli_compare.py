"""`ocelot compare-evals BASE CANDIDATE`: is the candidate model better than the base, or within the noise?

BASE and CANDIDATE are report folders of `ocelot eval --output`, or folders of them (one per scenario set,
e.g. models/default/eval): sets of the same name are paired episode by episode (ocelot_eval.comparison).
Prints, per set and per label, the mean per-episode difference, its standard error and the verdict;
`--json FILE` writes the same rows. Exits 2 when the reports cannot be paired.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="the reference: a report folder, or a folder of them (one per scenario set)")
    parser.add_argument("candidate", help="the model to judge, laid out as BASE")
    parser.add_argument("--sets", nargs="+", metavar="NAME", help="only these sets (default: every set both hold)")
    parser.add_argument("--json", metavar="FILE", help="also write the comparison to this JSON file")


def run(args: argparse.Namespace) -> int:
    from ocelot_eval.comparison import (
        ComparisonError,
        PairedDifference,
        compare,
        comparison_lines,
        load_report,
        report_sets,
    )
    from ocelot_eval.report import RESULTS_FILE

    try:
        base, candidate = report_sets(args.base), report_sets(args.candidate)
        if all((Path(folder) / RESULTS_FILE).is_file() for folder in (args.base, args.candidate)):
            # two report folders: pair them whatever their names
            base, candidate = {"report": next(iter(base.values()))}, {"report": next(iter(candidate.values()))}
        names = [name for name in base if name in candidate]
        if args.sets:
            missing = [name for name in args.sets if name not in names]
            if missing:
                raise ComparisonError(f"--sets {' '.join(missing)}: not a set both folders hold ({', '.join(names)})")
            names = list(args.sets)
        if not names:
            raise ComparisonError(
                f"no scenario set in both: {', '.join(base)} against {', '.join(candidate)}; name the report folders"
            )
        results: dict[str, list[PairedDifference]] = {}
        for name in names:
            try:
                results[name] = compare(load_report(base[name]), load_report(candidate[name]))
            except ComparisonError as exc:
                raise ComparisonError(f"set {name}: {exc}" if name != "report" else str(exc)) from None
    except ComparisonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, rows in results.items():
        print("\n".join(comparison_lines(name, rows)))
    unpaired = sorted(set(base) ^ set(candidate))
    if unpaired and not args.sets:
        print(f"not compared (in one folder only): {', '.join(unpaired)}")
    if args.json:
        table = {name: [_json_row(row) for row in rows] for name, rows in results.items()}
        Path(args.json).write_text(json.dumps(table, indent=1, allow_nan=False) + "\n")
    return 0


def _json_row(row) -> dict:
    """A row as strict JSON: a standard error that one episode leaves undefined is null."""
    values = {key: None if isinstance(v, float) and not math.isfinite(v) else v for key, v in asdict(row).items()}
    return {**values, "verdict": row.verdict}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot compare-evals", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
