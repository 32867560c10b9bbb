"""The node's ROS-free core: loading checks, command encoding, and the shared preprocessing."""

import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from contract_models import write_contract_model
from gate_reports import write_gate_report

from ocelot_common.gate_binding import DEPLOY_GATE
from ocelot_common.model_files import model_files, sha256_of
from ocelot_common.preprocessing import METADATA_KEY, STANDARD, Preprocessing, to_policy_frame
from ocelot_vla.onnx_policy import OnnxPolicy, PolicyLoadError, gated_model


def test_acts_on_any_image_size(tiny_model):
    policy = OnnxPolicy(tiny_model)
    policy.set_command("track the face")
    for shape in ((480, 640, 3), (224, 224, 3), (100, 37, 3)):
        action, ms = policy.act(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8))
        assert action.shape == (2,) and np.isfinite(action).all() and ms > 0


def test_same_preprocessing_as_collection_and_training(tiny_model, monkeypatch):
    """The node feeds exactly frames_to_input(to_policy_frame(image)), as collection stores and training reads."""
    import ocelot_vla.onnx_policy as module

    seen = []
    original = module.frames_to_input
    monkeypatch.setattr(module, "frames_to_input", lambda f, *rest: seen.append(f) or original(f, *rest))
    image = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    policy = OnnxPolicy(tiny_model)
    policy.set_command("track the face")
    policy.act(image)
    np.testing.assert_array_equal(seen[0], to_policy_frame(image))  # collection and training: testing/test


def test_a_model_taking_the_command_before_the_previous_one_gets_it_from_the_last_call(tmp_path):
    policy = OnnxPolicy(write_contract_model(tmp_path, previous_action=True, earlier_action=True))
    assert policy.uses_earlier_action and not policy.uses_previous_target
    policy.set_command("track the face")
    frames = np.random.default_rng(4).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    commands = [(0.0, 0.0), (0.5, -0.25), (-0.75, 1.0)]
    sequential = [policy.act(frame, command)[0] for frame, command in zip(frames, commands)]
    policy.reset()  # the earlier command is forgotten: the same frame and previous command answer otherwise
    assert not np.allclose(policy.act(frames[2], commands[2])[0], sequential[2], atol=1e-5)
    policy.reset()
    np.testing.assert_allclose(policy.act(frames[0], commands[0])[0], sequential[0], atol=1e-6)
    # offline (a whole episode at once) answers as the node does frame by frame
    np.testing.assert_allclose(
        policy.act_on_frames(frames, np.array(commands, np.float32)), np.stack(sequential), atol=1e-5
    )


def test_a_model_taking_its_previous_target_gets_it_fed_back_until_reset(tmp_path):
    policy = OnnxPolicy(write_contract_model(tmp_path, previous_target=True))
    assert policy.uses_previous_target and not policy.uses_previous_action
    policy.set_command("track the face")
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 255, (4, 224, 224, 3), dtype=np.uint8)
    frames[1, 40:90, 20:70] = 255  # something bright moves in
    frames[2, 40:90, 150:200] = 255
    sequential, targets = [], []
    for frame in frames:
        sequential.append(policy.act(frame)[0])
        targets.append(policy.last_target)
    assert all(t is not None and np.all(np.abs(t) <= 1) for t in targets) and not np.allclose(targets[1], targets[2])
    policy.reset()
    assert policy.last_target is None
    fresh = policy.act(frames[3])[0]
    assert not np.allclose(fresh, sequential[3], atol=1e-5)  # the estimate kept from frame 2 moved the action
    policy.reset()
    np.testing.assert_allclose(policy.act(frames[0])[0], sequential[0], atol=1e-6)
    np.testing.assert_allclose(policy.act(frames[0])[0], sequential[0], atol=1e-6)  # the same frame: no motion
    # offline (a whole episode at once) answers as the node does frame by frame
    np.testing.assert_allclose(policy.act_on_frames(frames), np.stack(sequential), atol=1e-5)
    policy.act(frames[2])
    policy.set_command("follow the person on the left")  # a new command starts over too
    assert policy.last_target is None
    changed = policy.act(frames[3])[0]
    policy.reset()
    np.testing.assert_allclose(policy.act(frames[3])[0], changed, atol=1e-6)


@pytest.mark.parametrize("size", [6, 12])  # the predictive head's state, and a folding one's
def test_a_model_carrying_a_law_state_gets_its_own_back_until_reset(tmp_path, size):
    policy = OnnxPolicy(write_contract_model(tmp_path, previous_action=True, law_state=size))
    assert policy.uses_law_state and not (policy.uses_previous_target or policy.uses_earlier_action)
    assert policy.law_state_size == size and policy.context.previous_law_state.shape == (1, size)
    policy.set_command("track the face")
    frames = np.random.default_rng(5).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    commands = [(0.0, 0.0), (0.5, -0.25), (-0.75, 1.0)]
    sequential = []
    for frame, command in zip(frames, commands):
        sequential.append(policy.act(frame, command)[0])
        # what the graph gave is what the next frame gets: the contract model's state repeats its actions
        np.testing.assert_allclose(policy.context.previous_law_state[0, :2], sequential[-1], atol=1e-6)
    policy.reset()
    assert np.isnan(policy.context.previous_law_state).all()
    fresh = policy.act(frames[2], commands[2])[0]
    assert not np.allclose(fresh, sequential[2], atol=1e-5)  # the same frame and command, without the state
    policy.reset()
    np.testing.assert_allclose(policy.act(frames[0], commands[0])[0], sequential[0], atol=1e-6)
    # offline, a whole episode at once, the state passes from frame to frame as the node passes it
    np.testing.assert_allclose(
        policy.act_on_frames(frames, np.array(commands, np.float32)), np.stack(sequential), atol=1e-5
    )
    policy.act(frames[1], commands[1])
    policy.set_command("follow the person on the left")  # a new command starts over too
    assert np.isnan(policy.context.previous_law_state).all()


def test_a_law_state_without_a_fixed_length_is_refused(tmp_path):
    path = write_contract_model(tmp_path, previous_action=True, law_state=6)
    model = onnx.load(path)
    state = next(i for i in model.graph.input if i.name == "previous_law_state")
    state.type.tensor_type.shape.dim[1].dim_param = "size"  # the node could not know what to feed first
    onnx.save(model, path)
    with pytest.raises(PolicyLoadError, match=r"previous_law_state has shape \['batch', 'size'\].*a fixed K"):
        OnnxPolicy(path)


def test_command_changes_the_output(tiny_model):
    policy = OnnxPolicy(tiny_model)
    image = np.full((480, 640, 3), 90, np.uint8)
    policy.set_command("track the face")
    a, _ = policy.act(image)
    policy.set_command("follow the person with a red shirt on the right")
    b, _ = policy.act(image)
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="empty"):
        policy.set_command("  ")


def test_bad_model_files_are_named(tiny_model, tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        OnnxPolicy(tmp_path / "missing.onnx")
    for name in ("model.onnx", "model.text.onnx", "model.tokenizer.json"):
        shutil.copy(tiny_model.parent / name, tmp_path / name)
    (tmp_path / "model.onnx").write_text("not a model")
    with pytest.raises(PolicyLoadError, match="not a loadable ONNX"):
        OnnxPolicy(tmp_path / "model.onnx")
    with pytest.raises(PolicyLoadError, match="refusing a model"):
        OnnxPolicy(tiny_model, expected={"policy": "0" * 64})
    assert OnnxPolicy(tiny_model, expected={"policy": sha256_of(tiny_model)}).max_tokens == 16


def test_only_a_passing_eval_report_of_the_deploy_gate_gives_the_hashes(tiny_model, tmp_path):
    passed = write_gate_report(tmp_path / "pass.json", tiny_model, True)
    hashes = gated_model(passed).files
    files = model_files(tiny_model)
    assert hashes == {kind: sha256_of(files[kind]) for kind in ("policy", "text", "tokenizer")}
    assert OnnxPolicy(tiny_model, expected=hashes).max_tokens == 16
    with pytest.raises(PolicyLoadError, match=r"failed its gate \(verdict FAIL; failed: mean_error_px\)"):
        gated_model(write_gate_report(tmp_path / "fail.json", tiny_model, False))
    with pytest.raises(PolicyLoadError, match="cannot be read"):
        gated_model(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"pass": true}')
    with pytest.raises(PolicyLoadError, match="no model_files"):
        gated_model(tmp_path / "other.json")
    for kind in ("text", "tokenizer"):
        with pytest.raises(PolicyLoadError, match=f"{files[kind].name} has sha256 .* refusing"):
            OnnxPolicy(tiny_model, expected={**hashes, kind: "0" * 64})
    with pytest.raises(PolicyLoadError, match="no sha256 for the model's tokenizer file"):
        gated_model(write_gate_report(tmp_path / "untokenized.json", tiny_model, True, drop=("tokenizer",)))


def test_a_pass_on_another_gate_is_refused_unless_accepted(tiny_model, tmp_path):
    # e.g. a gates file with looser thresholds
    lenient = {"gates_sha256": "a" * 64, "scenarios_sha256": "b" * 64, "robot_sha256": "c" * 64}
    report = write_gate_report(tmp_path / "lenient.json", tiny_model, True, binding=lenient)
    with pytest.raises(PolicyLoadError, match="not the deploy gate"):
        gated_model(report)
    assert gated_model(report, f"{'a' * 64}:{'b' * 64}:{'c' * 64}").files["policy"] == sha256_of(tiny_model)
    (tmp_path / "unbound.json").write_text(json.dumps({**json.loads(report.read_text()), "binding": None}))
    with pytest.raises(PolicyLoadError, match="not the deploy gate"):
        gated_model(tmp_path / "unbound.json", f"{'a' * 64}:{'b' * 64}:{'c' * 64}")
    with pytest.raises(PolicyLoadError, match="GATES_SHA256:SCENARIOS_SHA256:ROBOT_SHA256"):
        gated_model(report, "not-a-binding")
    with pytest.raises(PolicyLoadError, match="GATES_SHA256:SCENARIOS_SHA256:ROBOT_SHA256"):
        gated_model(report, f"{'a' * 64}:{'b' * 64}")  # a binding from before robot profiles


def test_a_pass_under_another_robot_profile_is_not_the_deploy_gate(tiny_model, tmp_path):
    other_robot = {**DEPLOY_GATE, "robot_sha256": "d" * 64}
    with pytest.raises(PolicyLoadError, match="not the deploy gate"):
        gated_model(write_gate_report(tmp_path / "other.json", tiny_model, True, binding=other_robot))


def test_the_gated_latency_is_the_profiles(tiny_model, tmp_path):
    assert (
        gated_model(write_gate_report(tmp_path / "pass.json", tiny_model, True, latency_s=0.1)).command_latency_s == 0.1
    )
    report = json.loads(write_gate_report(tmp_path / "norobot.json", tiny_model, True).read_text())
    del report["robot"]
    (tmp_path / "norobot.json").write_text(json.dumps(report))
    with pytest.raises(PolicyLoadError, match="records no robot profile"):
        gated_model(tmp_path / "norobot.json")


def test_wrong_inputs_are_refused(tmp_path, tiny_model):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2])],
    )
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), tmp_path / "model.onnx")
    for name in ("model.text.onnx", "model.tokenizer.json"):
        shutil.copy(tiny_model.parent / name, tmp_path / name)
    with pytest.raises(PolicyLoadError, match=r"inputs \['x'\].*expected"):
        OnnxPolicy(tmp_path / "model.onnx")


def test_import_closure_has_no_training_stack():
    code = (
        "import sys, ocelot_vla.vla_node; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'mujoco', 'h5py', 'mlflow', 'transformers', 'skimage', 'matplotlib'})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def _copy_with_metadata(tiny_model, root, value):
    """The tiny model with its graph's preprocessing entry set to `value` (None: removed)."""
    root.mkdir()
    for path in tiny_model.parent.iterdir():
        shutil.copy(path, root / path.name)
    model = onnx.load(root / "model.onnx")
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    if value is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, value
    onnx.save(model, root / "model.onnx")
    return root / "model.onnx"


def test_the_preprocessing_comes_from_the_graph(tiny_model, tmp_path):
    assert OnnxPolicy(tiny_model).preprocessing == STANDARD  # recorded in the graph, as export does
    assert OnnxPolicy(_copy_with_metadata(tiny_model, tmp_path / "old", None)).preprocessing == STANDARD
    other = Preprocessing(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    policy = OnnxPolicy(_copy_with_metadata(tiny_model, tmp_path / "other", json.dumps(other.to_dict())))
    assert policy.preprocessing == other
    frames = np.random.default_rng(3).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    standard = OnnxPolicy(tiny_model)
    for p in (policy, standard):
        p.set_command("track the face")
    assert not np.allclose(policy.act_on_frames(frames), standard.act_on_frames(frames))


@pytest.mark.parametrize(
    "value, problem",
    [
        ("{not json", "is not JSON"),
        (json.dumps({"frame_size": 160, "mean": [0.5] * 3, "std": [0.5] * 3}), r"shape.*\(batch, 3, 160, 160\)"),
        (json.dumps({"frame_size": 224, "mean": [0.5, 0.5], "std": [0.5] * 3}), "mean must be three"),
        (json.dumps({"frame_size": 224, "gamma": 2}), "unknown keys"),
    ],
)
def test_a_graph_with_unusable_preprocessing_is_refused(tiny_model, tmp_path, value, problem):
    with pytest.raises(PolicyLoadError, match=problem):
        OnnxPolicy(_copy_with_metadata(tiny_model, tmp_path / "bad", value))
