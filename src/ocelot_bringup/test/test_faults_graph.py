"""Fault injection on the running eval graph (opt in: -m faults): real node processes over DDS.

The sim is killed, its camera stops, lifecycle requests that no state allows arrive in a storm, and
parameters are set to values that cannot work. Each case prints what it observed (the closing notes
quote these lines).
"""

import os
import signal
import time
from pathlib import Path

import pytest
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
from ros_probe import RosProbe, run
from tiny_models import export_tiny_model

from ocelot_common.processes import LaunchProc, Proc, fresh_domain_id
from ocelot_msgs.msg import GraphHealth

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parents[3]
CI_SCENARIOS = ROOT / "src" / "ocelot_eval" / "config" / "scenarios_ci.yaml"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("faults_model"))


class RunningGraph:
    """The eval graph in real time with a tiny model that always steers, and a probe on its domain."""

    def __init__(self, model, output):
        self.domain = fresh_domain_id()
        self.launch = LaunchProc(
            [
                "ocelot",
                "launch",
                "eval",
                f"model_path:={model}",
                f"scenario_file:={CI_SCENARIOS}",
                f"output:={output}",
                "lockstep:=false",
            ],
            self.domain,
        )
        self.probe = RosProbe(self.domain, "faults")
        self.commands: list[tuple[float, float]] = []  # (arrival, pan velocity)
        self.health: list[tuple[float, GraphHealth]] = []
        node = self.probe.node
        node.create_subscription(
            Twist, "/cmd_vel", lambda m: self.commands.append((time.monotonic(), m.angular.z)), 100
        )
        node.create_subscription(
            GraphHealth, "/lifecycle_manager/health", lambda m: self.health.append((time.monotonic(), m)), 10
        )
        self.launch.wait_line("graph 'eval' active", 120)
        self.wait_steering()

    def wait_steering(self, count: int = 5) -> None:
        start = len(self.commands)
        self.probe.spin_until(
            lambda: sum(abs(z) > 1e-3 for _, z in self.commands[start:]) >= count, 30, f"{count} steering commands"
        )

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        self.probe.spin_until(lambda: time.monotonic() >= end, seconds + 5, "time to pass")

    def call(self, service_type, name: str, request, timeout: float = 10.0):
        client = self.probe.node.create_client(service_type, name)
        self.probe.spin_until(client.service_is_ready, timeout, f"service {name}")
        future = client.call_async(request)
        self.probe.spin_until(future.done, timeout, f"an answer from {name}")
        self.probe.node.destroy_client(client)
        return future.result()

    def state(self, node: str) -> str:
        return self.call(GetState, f"/{node}/get_state", GetState.Request()).current_state.label

    def stop_after(self, t0: float) -> tuple[float | None, float | None]:
        """(last steering command, first zero command) after t0, in seconds from t0."""
        after = [(t - t0, z) for t, z in self.commands if t > t0]
        steering = [t for t, z in after if abs(z) > 1e-3]
        zeros = [t for t, z in after if z == 0.0]
        return (max(steering) if steering else None), (min(zeros) if zeros else None)

    def close(self) -> None:
        self.probe.close()
        self.launch.kill()


@pytest.fixture
def graph(model, tmp_path):
    running = RunningGraph(model, tmp_path / "eval")
    yield running
    running.close()
    print("\n".join(running.launch.lines[-30:]))  # shown when the test failed


def test_killed_sim_stops_the_vla_within_half_a_second_and_the_manager_reports_it(graph):
    sim = graph.launch.node_pids()["sim"]
    killed = time.monotonic()
    os.kill(sim, signal.SIGKILL)
    graph.spin(3.0)
    last_steer, zero = graph.stop_after(killed)
    assert zero is not None and zero < 0.5, f"zero command {zero} s after the kill"
    assert last_steer is None or last_steer < zero, "a steering command after the stop"
    assert not [t for t, _ in graph.commands if t > killed + zero + 0.01], "commands after the stop (not silent)"
    graph.launch.wait_line("node 'sim' died (signal SIGKILL)", 5)
    graph.launch.wait_line("node 'sim' is not responding", 5)
    reported = next(
        t
        for t, h in graph.health
        if t > killed and any(n.name == "sim" and not n.alive for n in h.nodes) and not h.all_active
    )
    assert graph.state("vla") == "active" and graph.state("evaluator") == "active"
    print(
        f"sim SIGKILLed: last steering command {last_steer if last_steer is None else round(last_steer, 3)} s, "
        f"zero command {zero:.3f} s after the kill, then silence; /lifecycle_manager/health: sim "
        f"unreachable {reported - killed:.2f} s after the kill; VLA and evaluator alive and active"
    )


def test_camera_that_stops_gives_zero_velocity_and_steering_resumes(graph):
    asked = time.monotonic()
    deactivate = ChangeState.Request(transition=Transition(label="deactivate"))  # frames stop, the sim lives
    assert graph.call(ChangeState, "/sim/change_state", deactivate).success
    answered = time.monotonic()
    graph.spin(1.5)
    last_steer, zero = graph.stop_after(asked)
    assert zero is not None and zero - (answered - asked) < 0.5, f"zero command {zero} s after the request"
    assert last_steer is None or last_steer < zero
    assert not [t for t, z in graph.commands if t > asked + zero + 0.01], "commands after the stop"
    assert run(["ocelot", "lifecycle", "set", "sim", "activate"], graph.domain).returncode == 0
    graph.wait_steering()
    print(
        f"camera stopped (sim deactivated, answered in {answered - asked:.3f} s): zero command "
        f"{zero - (answered - asked):.3f} s after the answer, silence until frames returned, then steering again"
    )


INVALID_FROM_ACTIVE = [
    (Transition.TRANSITION_CONFIGURE, ""),
    (Transition.TRANSITION_CLEANUP, ""),
    (Transition.TRANSITION_ACTIVATE, ""),
    (Transition.TRANSITION_UNCONFIGURED_SHUTDOWN, ""),
    (Transition.TRANSITION_INACTIVE_SHUTDOWN, ""),
    (42, ""),
    (255, ""),
    (0, "fly"),
    (0, ""),
]


def test_storm_of_invalid_lifecycle_transitions_leaves_every_node_alive_and_active(graph):
    clients = {
        n: graph.probe.node.create_client(ChangeState, f"/{n}/change_state") for n in ("sim", "vla", "evaluator")
    }
    for name, client in clients.items():
        graph.probe.spin_until(client.service_is_ready, 10, f"{name}'s change_state")
    futures, started = [], time.monotonic()
    for _ in range(20):  # in waves of 9 per node: a service's request queue keeps 10, DDS drops the rest
        wave = [
            client.call_async(ChangeState.Request(transition=Transition(id=tid, label=label)))
            for client in clients.values()
            for tid, label in INVALID_FROM_ACTIVE
        ]
        graph.probe.spin_until(lambda wave=wave: all(f.done() for f in wave), 30, f"answers to {len(wave)} requests")
        futures += wave
    took = time.monotonic() - started
    assert not any(f.result().success for f in futures)
    assert all(graph.state(n) == "active" for n in clients)
    graph.wait_steering()
    assert not [ln for ln in graph.launch.lines if "died" in ln]
    print(
        f"{len(futures)} invalid transition requests to sim, vla and evaluator answered in {took:.1f} s, "
        "all refused; every node still active, the VLA still steering"
    )


def _value(value) -> ParameterValue:
    kind = {
        bool: (ParameterType.PARAMETER_BOOL, "bool_value"),
        int: (ParameterType.PARAMETER_INTEGER, "integer_value"),
        float: (ParameterType.PARAMETER_DOUBLE, "double_value"),
        str: (ParameterType.PARAMETER_STRING, "string_value"),
    }[type(value)]
    return ParameterValue(type=kind[0], **{kind[1]: value})


# node executable -> (bad values, one good value): every bad one must be refused, the good one taken
PARAMETER_CASES = {
    ("ocelot_sim", "sim_node", "sim"): (
        {
            "camera_hz": 0.0,
            "lockstep_timeout": -1.0,
            "seed": -3,
            "scenario_file": "/no/such/file.yaml",
            "label_mix": "track:lots",
            "perturb_interval": 3,
            "lockstep": "yes",
        },
        ("camera_hz", 15.0),
    ),
    ("ocelot_vla", "vla_node", "vla"): (
        {
            "max_velocity": -1.0,
            "max_acceleration": 0.0,
            "smoothing": 1.5,
            "stale_image_timeout": 0.0,
            "intra_op_threads": 0,
            "language_cmd": "  ",
            "enabled": "yes",
        },
        ("max_velocity", 0.8),
    ),
    ("ocelot_eval", "evaluator_node", "evaluator"): (
        {"episode_frames": 0, "reset_timeout": 0.0, "output": "", "scenario_file": "/no/such/file.yaml"},
        ("episode_frames", 50),
    ),
    ("ocelot_collect", "collector_node", "collector"): (
        {"n_episodes": 0, "base_ep": -1, "compression_level": 12, "settings_json": "[1, 2]", "stall_timeout": -1.0},
        ("n_episodes", 3),
    ),
    ("ocelot_oracle", "oracle_node", "oracle"): ({"gain": 1.5, "period_s": 0.0, "max_velocity": -1.0}, ("gain", 0.5)),
    ("ocelot_bringup", "lifecycle_manager", "lifecycle_manager"): (
        {"heartbeat_period": 0.0, "heartbeat_timeout": -1.0},
        ("heartbeat_timeout", 2.0),
    ),
}


def test_bad_parameter_values_are_refused_by_every_node(tmp_path):
    domain = fresh_domain_id()
    install = ROOT / "install"
    # the sim starts with a 5-frame jump hold, so a 3-frame jump interval cannot fit it
    procs = {
        name: Proc(
            [
                str(install / pkg / "lib" / pkg / exe),
                *(["--ros-args", "-p", "perturb_hold:=5"] if name == "sim" else []),
            ],
            domain,
        )
        for (pkg, exe, name) in PARAMETER_CASES
    }
    probe = RosProbe(domain)
    lines = []
    try:
        for (_, _, name), (bad, (good_name, good_value)) in PARAMETER_CASES.items():
            set_client = probe.node.create_client(SetParameters, f"/{name}/set_parameters")
            get_client = probe.node.create_client(GetParameters, f"/{name}/get_parameters")
            probe.spin_until(
                lambda s=set_client, g=get_client: s.service_is_ready() and g.service_is_ready(),
                60,
                f"{name}'s parameter services",
            )

            def call(client, request):
                future = client.call_async(request)
                probe.spin_until(future.done, 20, f"an answer from {client.srv_name}")
                return future.result()

            before = call(get_client, GetParameters.Request(names=[good_name])).values[0]
            reasons = []
            for param, value in bad.items():
                result = call(
                    set_client, SetParameters.Request(parameters=[Parameter(name=param, value=_value(value))])
                ).results[0]
                assert not result.successful, f"{name}: {param}={value!r} was accepted"
                reasons.append(result.reason)
            assert call(get_client, GetParameters.Request(names=[good_name])).values[0] == before
            accepted = call(
                set_client, SetParameters.Request(parameters=[Parameter(name=good_name, value=_value(good_value))])
            ).results[0]
            assert accepted.successful, f"{name}: {good_name}={good_value!r} refused: {accepted.reason}"
            assert procs[name].popen.poll() is None, procs[name].output
            lines.append(f"{name}: refused {len(reasons)} - " + "; ".join(reasons))
    finally:
        probe.close()
        for proc in procs.values():
            proc.kill()
    print("\n".join(lines))
