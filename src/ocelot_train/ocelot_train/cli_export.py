"""`ocelot export --checkpoint CKPT --output model.onnx`: ONNX graphs + tokenizer + model card, parity-checked."""

from __future__ import annotations

import argparse
import sys

from ocelot_train.quantize import SCOPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="best.pt from `ocelot train`, or a model `ocelot export` wrote (model.onnx or its folder), to export it "
        "again with other settings (e.g. --predictive-law)",
    )
    parser.add_argument("--output", required=True, help="the per-frame graph, e.g. models/default/model.onnx")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="max |ONNX - PyTorch| on random inputs")
    parser.add_argument(
        "--quantize-text",
        nargs="?",
        const="all",
        choices=tuple(SCOPES),
        metavar="|".join(SCOPES),
        help="store the text encoder's weights as int8: "
        + "; ".join(f"{name}: {what}" for name, (_, what) in SCOPES.items())
        + " (all is the default, a quarter of the size); checked by how far it moves the read-out on dataset frames",
    )
    parser.add_argument(
        "--check-dataset",
        metavar="DIR",
        help="with --quantize-text: check the int8 text graph on this dataset's frames and commands instead of "
        "the training dataset's (e.g. exporting a model again where its dataset is not)",
    )
    parser.add_argument(
        "--track-prior",
        type=track_prior,
        metavar="SIGMA:RADIUS:CAP",
        help="set the read-out's tracking prior in the graph (model.track_prior_*; image half-widths, logits), "
        "e.g. 0.1:0.25:4; it needs model.previous_target",
    )
    parser.add_argument(
        "--predictive-law",
        metavar="FILE",
        help="replace the checkpoint's head by the predictive one with these settings: the JSON that `ocelot "
        "tune-law --law predictive --output FILE` writes (its model.predictive_law); the read-out is kept. It needs "
        "model.previous_action and model.earlier_action",
    )


def track_prior(text: str) -> tuple[float, float, float]:
    try:
        sigma, radius, cap = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} must be SIGMA:RADIUS:CAP, three numbers, e.g. 0.1:0.25:4") from None
    return sigma, radius, cap


def run(args: argparse.Namespace) -> int:
    from ocelot_common.model_files import model_files
    from ocelot_train.export import ExportError, export_model, read_predictive_law
    from ocelot_train.hub import PretrainedUnavailable

    try:
        card = export_model(
            args.checkpoint,
            args.output,
            args.tolerance,
            quantize_text=args.quantize_text,
            track_prior=args.track_prior,
            predictive_law=read_predictive_law(args.predictive_law) if args.predictive_law else None,
            check_dataset=args.check_dataset,
        )
    except (ExportError, PretrainedUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind, path in model_files(args.output).items():
        print(f"{kind:9s} {path}")
    print(f"parity (max |ONNX - PyTorch|): {card['parity_max_abs']}; sha256 {card['files']['policy']['sha256']}")
    if card["text_quantization"]:
        q = card["text_quantization"]
        print(
            f"int8 text graph ({q['scope']}): feature cosine >= {q['feature_cosine_min']:.4f}, read-out moved by <= "
            f"{q['read_out_max_px']:.2f} px ({q['read_out_mean_px']:.2f} on average), actions by <= "
            f"{q['action_max_abs']:.4f} rad/s over {q['commands_checked']} commands"
        )
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ocelot export", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
