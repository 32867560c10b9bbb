"""Graph definitions: parsing, arguments, substitution, and the shipped graphs."""

from pathlib import Path

import pytest

from ocelot_bringup.graphs import GraphError, argument_values, load_graphs, parse_overrides, resolve, select_graph
from ocelot_bringup.launch_description import LaunchVar, launch_plan

SRC = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped():
    return load_graphs(SRC / "ocelot_bringup" / "config" / "graphs.yaml")


def test_shipped_graphs_name_real_packages(shipped):
    assert {"sim", "collect", "eval", "deploy"} <= set(shipped)
    for graph in shipped.values():
        for node in graph.nodes:
            assert (SRC / node.package / "package.xml").is_file(), f"{graph.name}/{node.name}: {node.package}"


def test_deploy_graph_runs_only_the_policy(shipped):
    assert [n.package for n in shipped["deploy"].nodes] == ["ocelot_vla"]


def test_overrides_are_typed_like_ros2_launch(shipped):
    nodes = resolve(shipped["sim"], parse_overrides(["seed:=7", "lockstep:=false"]))
    sim = nodes[0]
    assert sim.parameters["seed"] == 7 and sim.parameters["lockstep"] is False


def test_defaults_apply_without_overrides(shipped):
    assert argument_values(shipped["collect"], {})["n_episodes"] == 10


def test_embedded_variable_becomes_text(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "g:\n  arguments: {n: 3}\n  nodes:\n    - {name: a, package: p, executable: e,"
        " parameters: {out: run_$(var n)/x}}\n"
    )
    graph = load_graphs(path)["g"]
    assert resolve(graph, {"n": "5"})[0].parameters["out"] == "run_5/x"
    plan = launch_plan(graph)
    assert plan["nodes"][0]["parameters"]["out"] == ["run_", LaunchVar("n", True), "/x"]


@pytest.mark.parametrize(
    "items, message",
    [
        (["seed"], "malformed argument 'seed': expected name:=value"),
        (["=3"], "malformed argument '=3'"),
        ([":=3"], "malformed argument ':=3'"),
    ],
)
def test_malformed_overrides(items, message):
    with pytest.raises(GraphError, match=message):
        parse_overrides(items)


def test_unknown_argument_names_valid_ones(shipped):
    with pytest.raises(
        GraphError, match="graph 'sim' has no argument 'sed'; valid arguments: lockstep, robot_profile, seed"
    ):
        resolve(shipped["sim"], {"sed": "1"})


def test_unknown_graph_names_valid_ones(shipped):
    with pytest.raises(
        GraphError,
        match="unknown graph 'sims'; valid graphs: collect, collect_dagger, deploy, eval, eval_oracle, eval_zero, sim",
    ):
        select_graph(shipped, "sims")


@pytest.mark.parametrize(
    "text, message",
    [
        ("g: [1]\n", "must be a mapping"),
        ("g:\n  nodes: []\n", "has no nodes"),
        ("g:\n  nodes:\n    - {name: a, package: p}\n", "node #0 lacks executable"),
        ("g:\n  nodez: []\n", "unknown key"),
        (
            "g:\n  nodes:\n    - {name: a, package: p, executable: e, parameters: {x: $(var y)}}\n",
            r"uses \$\(var y\) but the graph declares only no arguments",
        ),
        (
            "g:\n  nodes:\n    - {name: a, package: p, executable: e}\n    - {name: a, package: p, executable: e}\n",
            "node names must be unique",
        ),
        ("g: {nodes: [\n", "not valid YAML"),
    ],
)
def test_bad_graph_files(tmp_path, text, message):
    path = tmp_path / "graphs.yaml"
    path.write_text(text)
    with pytest.raises(GraphError, match=message):
        load_graphs(path)


def test_missing_graph_file(tmp_path):
    with pytest.raises(GraphError, match="cannot read graph file"):
        load_graphs(tmp_path / "absent.yaml")


def test_launch_plan_keeps_order_and_manager(shipped):
    plan = launch_plan(shipped["eval"])
    assert [n["name"] for n in plan["nodes"]] == ["sim", "vla", "evaluator"]
    assert plan["manager"]["parameters"]["node_names"] == ["sim", "vla", "evaluator"]
    assert plan["nodes"][1]["parameters"]["model_path"] == LaunchVar("model_path", True)
    assert plan["arguments"]["episode_frames"][0] == "100"
    # the controller variants share the sim and evaluator definitions (YAML anchors), not copies
    for variant, controller in (("eval_oracle", "oracle"), ("eval_zero", "zero_controller")):
        nodes = launch_plan(shipped[variant])["nodes"]
        assert [n["name"] for n in nodes] == ["sim", controller, "evaluator"]
        assert nodes[0] == plan["nodes"][0] and nodes[2] == plan["nodes"][2]


def test_each_launch_file_translates_its_own_graph(shipped):
    launch_dir = SRC / "ocelot_bringup" / "launch"
    for graph in shipped:
        text = (launch_dir / f"{graph}_launch.py").read_text()
        assert f'generate_graph_launch_description("{graph}")' in text
    assert {p.name for p in launch_dir.glob("*_launch.py")} == {f"{g}_launch.py" for g in shipped}
