"""`ocelot export --checkpoint CKPT --output model.onnx`: ONNX graphs + tokenizer + model card, parity-checked."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="best.pt from `ocelot train`")
    parser.add_argument("--output", required=True, help="the per-frame graph, e.g. models/default/model.onnx")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="max |ONNX - PyTorch| on random inputs")


def run(args: argparse.Namespace) -> int:
    from ocelot_common.model_files import model_files
    from ocelot_train.export import ExportError, export_model
    from ocelot_train.hub import PretrainedUnavailable

    try:
        card = export_model(args.checkpoint, args.output, args.tolerance)
    except (ExportError, PretrainedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind, path in model_files(args.output).items():
        print(f"{kind:9s} {path}")
    print(f"parity (max |ONNX - PyTorch|): {card['parity_max_abs']}; sha256 {card['files']['policy']['sha256']}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot export", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
