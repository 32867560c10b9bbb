"""Bad input to `ocelot` gets a one-line error naming the valid choices, and a non-zero exit."""

import subprocess

import pytest
from ros_probe import run

from ocelot_common.processes import fresh_domain_id


def ocelot(*args):
    return run(["ocelot", *args], fresh_domain_id(), timeout=60)


def error_line(result):
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    return lines[-1]


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["launch", "sims"],
            "error: unknown graph 'sims'; valid graphs: "
            "collect, collect_dagger, deploy, eval, eval_oracle, eval_zero, sim",
        ),
        (["launch", "sim", "seed=3"], "error: malformed argument 'seed=3': expected name:=value"),
        (
            ["launch", "sim", "speed:=3"],
            "error: graph 'sim' has no argument 'speed'; valid arguments: lockstep, robot_profile, seed",
        ),
        (
            ["lifecycle", "set", "sim", "explode"],
            "error: unknown transition 'explode'; valid transitions: "
            "configure, cleanup, activate, deactivate, shutdown",
        ),
    ],
)
def test_one_line_errors(args, expected):
    result = ocelot(*args)
    assert result.returncode == 2
    assert error_line(result).startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_node():
    result = ocelot("lifecycle", "get", "nobody", "--timeout", "1")
    assert result.returncode == 1
    assert error_line(result) == "error: node '/nobody' not found; lifecycle nodes: none"


def test_unknown_subcommand_lists_commands():
    result = ocelot("lanch")
    assert result.returncode == 2
    assert "invalid choice: 'lanch'" in error_line(result) and "launch" in error_line(result)


def test_launch_list_shows_graphs_and_arguments():
    result = ocelot("launch", "--list")
    assert result.returncode == 0
    assert "sim: " in result.stdout and "seed:=0" in result.stdout


def test_a_reader_that_stops_reading_ends_the_command_without_a_traceback():
    """`ocelot ... | head`: the pipe's reader is gone before the command writes (closed here at once, while the
    command is still starting), which fails its first write."""
    command = subprocess.Popen(
        ["ocelot", "launch", "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    command.stdout.close()
    _, stderr = command.communicate(timeout=60)
    assert command.returncode == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
