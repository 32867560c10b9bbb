"""The `ocelot` command: one entry point for launching graphs, driving lifecycles and the pipeline.

Subcommands of other packages (collect, train, eval, ...) are loaded only when
asked for, so `ocelot lifecycle` on the robot never imports the training stack.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ocelot_bringup.graphs import GraphError, load_graphs, parse_overrides, resolve, select_graph

# name -> (module with add_arguments(parser) and run(args), one-line help)
PIPELINE_COMMANDS = {
    "collect": ("ocelot_collect.cli_collect", "collect oracle episodes into an HDF5 dataset"),
    "check-dataset": ("ocelot_dataset.cli_check", "check a dataset for problems"),
    "merge-datasets": ("ocelot_dataset.cli_merge", "merge dataset shards and rebuild the splits"),
    "cache-features": ("ocelot_train.cli_features", "cache a frozen vision encoder's tokens ahead of training"),
    "train": ("ocelot_train.cli_train", "train the VLA policy"),
    "sweep": ("ocelot_train.cli_sweep", "train a grid of configurations, one MLflow run each"),
    "export": ("ocelot_train.cli_export", "export a checkpoint to ONNX and verify it"),
    "eval": ("ocelot_eval.cli_eval", "closed-loop evaluation and the deploy gate"),
    "compare-evals": ("ocelot_eval.cli_compare", "pair two evaluations episode by episode: better, worse or noise"),
    "eval-offline": ("ocelot_eval.cli_offline", "offline evaluation on a dataset's test split"),
    "tune-law": ("ocelot_eval.cli_tune_law", "tune the law head's gains for a robot profile in a fast loop model"),
    "contact-sheet": ("ocelot_collect.cli_contact_sheet", "render frames of scenarios into one PNG"),
}


def _launch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", metavar="GRAPH", help="graph name (see --list)", nargs="?")
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="graph arguments")
    parser.add_argument("--graphs", metavar="FILE", help="graph definitions (default: the installed graphs.yaml)")
    parser.add_argument(
        "--no-autostart", action="store_true", help="start the processes but leave every node unconfigured"
    )
    parser.add_argument("--list", action="store_true", help="list graphs and their arguments")


def _run_launch(args: argparse.Namespace) -> int:
    from ocelot_bringup.launcher import Launcher

    graphs = load_graphs(args.graphs)
    if args.list or not args.graph:
        for graph in graphs.values():
            print(f"{graph.name}: {graph.description}")
            for arg in graph.arguments.values():
                print(f"    {f'{arg.name}:={arg.default}':<40} {arg.description}")
        return 0 if args.list else _usage_error(f"name a graph: {', '.join(sorted(graphs))}")
    graph = select_graph(graphs, args.graph)
    nodes = resolve(graph, parse_overrides(args.arguments))
    return Launcher(graph, nodes, autostart=not args.no_autostart).run()


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    from ocelot_bringup import lifecycle_cli

    parser = argparse.ArgumentParser(prog="ocelot", description="Ocelot: language-commanded face tracking on ROS 2.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _launch_arguments(commands.add_parser("launch", help="start a node graph (sim, collect, eval, deploy)"))
    lifecycle_cli.add_arguments(commands.add_parser("lifecycle", help="drive lifecycle nodes like `ros2 lifecycle`"))
    for name, (_, text) in PIPELINE_COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, not at exit, where a reader gone away could not be answered
        return status
    except BrokenPipeError:
        # the reader stopped reading (`ocelot compare-evals ... | head`): stop quietly, as shell tools do;
        # stdout goes to /dev/null so that the interpreter's last flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PIPELINE_COMMANDS:
        return _run_pipeline_command(argv[0], argv[1:])
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # `name:=value` may follow options (ros2 launch allows it); anything else is an error.
        if args.command != "launch" or any(":=" not in item for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.arguments += extra
    try:
        if args.command == "launch":
            return _run_launch(args)
        from ocelot_bringup import lifecycle_cli

        return lifecycle_cli.run(args)
    except GraphError as exc:
        return _usage_error(str(exc))


def _run_pipeline_command(name: str, argv: list[str]) -> int:
    module_name, text = PIPELINE_COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not (exc.name and module_name.startswith(exc.name)):
            raise
        return _usage_error(
            f"`ocelot {name}` needs {module_name.split('.')[0]}, which is not built here; run `make setup`"
        )
    parser = argparse.ArgumentParser(prog=f"ocelot {name}", description=text)
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
