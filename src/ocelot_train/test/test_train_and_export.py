"""Training on the tiny fixture, MLflow tracking, ONNX export parity, and bad input through `ocelot train`."""

import json
import subprocess

import numpy as np
import pytest
import torch

from ocelot_common.model_files import model_files
from ocelot_common.preprocessing import METADATA_KEY, STANDARD, Preprocessing, frames_to_input
from ocelot_dataset.episode_io import episode_path, read_episode
from ocelot_train.configuration_vla import load_run_config
from ocelot_train.dataset import FrameDataset
from ocelot_train.export import ExportError, export_model, load_checkpoint
from ocelot_train.features import encode_commands, encoder_session
from ocelot_train.modeling_vla import target_loss
from ocelot_train.train_loop import Trainer

QUICK = ["train.epochs=3", "train.batch_size=16", "train.lr=3e-3", "train.warmup_steps=5", "train.augment=false"]


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    output = tmp_path_factory.mktemp("run")
    trainer = Trainer(tiny_dataset, output, load_run_config(None, QUICK), progress=False)
    return trainer, trainer.run()


def test_validation_loss_falls_and_metrics_are_reported(trained):
    _, result = trained
    losses = [row["val_mse"] for row in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert set(result.history[-1]["val_mse_per_label"]) <= {"track", "multi_left"}
    assert result.checkpoint.is_file() and result.best["val_mse"] == min(losses)


def test_target_loss_skips_unknown_rows_and_keeps_the_graph_when_none_is_known():
    xy = torch.tensor([[0.5, 0.0], [0.0, 0.0], [1.0, 1.0]], requires_grad=True)
    known = torch.tensor([[0.0, 0.0], [float("nan"), float("nan")], [1.0, 0.0]])
    expected = torch.nn.functional.smooth_l1_loss(xy[[0, 2]], known[[0, 2]], beta=0.1)
    assert torch.equal(target_loss(xy, known), expected) and expected > 0
    none = target_loss(xy, torch.full((3, 2), float("nan")))
    none.backward()
    assert none.item() == 0.0 and torch.equal(xy.grad, torch.zeros(3, 2))


def test_export_matches_pytorch(trained, tmp_path):
    import onnxruntime as ort

    trainer, result = trained
    card = export_model(result.checkpoint, tmp_path / "model.onnx")
    assert max(card["parity_max_abs"].values()) <= 1e-5
    paths = model_files(tmp_path / "model.onnx")
    assert all(p.is_file() for p in paths.values())
    policy_session = ort.InferenceSession(str(paths["policy"]))
    assert [i.name for i in policy_session.get_inputs()] == ["frames", "text_features", "attention_mask"]
    assert [o.name for o in policy_session.get_outputs()] == ["actions"]
    # the preprocessing it was trained with travels in the graph (bound by its sha256) and in the card
    recorded = policy_session.get_modelmeta().custom_metadata_map
    assert METADATA_KEY in recorded and Preprocessing.from_metadata(recorded) == STANDARD
    assert card["preprocessing"] == STANDARD.to_dict()
    # a real frame and command through both graphs, as the policy node will run them
    from ocelot_common.text import load_tokenizer, tokenize

    frame = frames_to_input(read_episode(episode_path(trainer.dataset_dir, 0)).frames[2])
    ids, mask = tokenize(load_tokenizer(paths["tokenizer"]), ["track the face"], card["text"]["max_tokens"])
    text = ort.InferenceSession(str(paths["text"])).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    onnx_action = policy_session.run(None, {"frames": frame, "text_features": text, "attention_mask": mask})[0]
    policy, _ = load_checkpoint(result.checkpoint)
    features, torch_mask = encode_commands(trainer.text_encoder, trainer.tokenizer, ["track the face"], 16)
    with torch.no_grad():
        expected = policy.act(torch.from_numpy(frame), features, torch_mask)[0].numpy()
    np.testing.assert_allclose(onnx_action, expected, atol=1e-5)
    assert json.loads(paths["card"].read_text())["files"]["policy"]["sha256"] == card["files"]["policy"]["sha256"]


def test_export_refuses_what_is_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(ExportError, match="not an Ocelot training checkpoint"):
        export_model(tmp_path / "x.pt", tmp_path / "model.onnx")


def test_an_export_whose_graph_disagrees_with_pytorch_is_refused(trained, tmp_path, monkeypatch):
    """The parity check itself: a graph that computes something else (here: one weight nudged after the
    export, as an exporter bug would) fails the export, and no card is written for it."""
    import onnx
    from onnx import numpy_helper

    from ocelot_train import export

    real_session = export.cpu_session

    def skewed_session(path):
        if path.name == "model.onnx":
            model = onnx.load(str(path))
            for init in model.graph.initializer:
                weights = numpy_helper.to_array(init)
                if weights.dtype == np.float32:
                    init.CopyFrom(numpy_helper.from_array(weights * 1.1 + 0.01, init.name))
            onnx.save(model, str(path))
        return real_session(path)

    monkeypatch.setattr(export, "cpu_session", skewed_session)
    with pytest.raises(ExportError, match="ONNX and PyTorch disagree"):
        export_model(trained[1].checkpoint, tmp_path / "model.onnx")
    assert not model_files(tmp_path / "model.onnx")["card"].exists()


@pytest.mark.parametrize("limit", ["QUANTIZED_READ_OUT_MAX_PX", "QUANTIZED_READ_OUT_MEAN_PX"])
def test_int8_text_weights_that_move_the_read_out_too_far_on_dataset_frames_are_refused(
    trained, tmp_path, monkeypatch, limit
):
    """The check itself, with the real quantizer: below what int8 really moves the read-out by on dataset
    frames (its largest shift, or its mean), the tolerance refuses the graph, and the fp32 text graph stays."""
    from ocelot_common.model_files import sha256_of
    from ocelot_train import export

    plain = export_model(trained[1].checkpoint, tmp_path / "plain" / "model.onnx")
    monkeypatch.setattr(export, limit, 1e-9)
    refused = r"int8 text weights \(all\) move the read-out by up to .* px .* on frames of .*--quantize-text blocks"
    with pytest.raises(ExportError, match=refused):
        export_model(trained[1].checkpoint, tmp_path / "model.onnx", quantize_text="all")
    paths = model_files(tmp_path / "model.onnx")
    assert not paths["card"].exists() and not paths["text"].with_name(paths["text"].name + ".int8").exists()
    assert sha256_of(paths["text"]) == plain["files"]["text"]["sha256"]  # the fp32 graph stayed


def test_int8_text_needs_the_dataset_to_check_on(trained, tmp_path):
    checkpoint = torch.load(trained[1].checkpoint, weights_only=True)
    dataset = checkpoint["dataset"]
    checkpoint["dataset"] = str(tmp_path / "elsewhere")
    torch.save(checkpoint, tmp_path / "moved.pt")
    with pytest.raises(ExportError, match="none can be read here.*--check-dataset"):
        export_model(tmp_path / "moved.pt", tmp_path / "model.onnx", quantize_text="all")
    with pytest.raises(ExportError, match="--check-dataset names the frames .*: add --quantize-text"):
        export_model(tmp_path / "moved.pt", tmp_path / "model.onnx", check_dataset=dataset)
    # another dataset's frames check it; the card names them, and keeps the training dataset's name
    card = export_model(tmp_path / "moved.pt", tmp_path / "model.onnx", quantize_text="all", check_dataset=dataset)
    assert card["text_quantization"]["frames_from"].startswith(f"{dataset} (")
    assert card["dataset"] == str(tmp_path / "elsewhere")


def test_finer_int8_scopes_cost_size_and_keep_the_text_features_closer(trained, tmp_path):
    """The scopes on the real text encoder: "blocks" (a scale per 64 rows of each MatMul column) is a little
    larger than "all" and its features stay closer to fp32; "embeddings" (only Gather tables in int8, no MatMul
    reads an int8 weight) is larger and closer still."""
    import onnx

    cards, sizes = {}, {}
    for scope in ("all", "blocks", "embeddings"):
        cards[scope] = export_model(trained[1].checkpoint, tmp_path / scope / "model.onnx", quantize_text=scope)
        sizes[scope] = cards[scope]["files"]["text"]["bytes"]
        assert cards[scope]["text_quantization"]["scope"] == scope
    plain = export_model(trained[1].checkpoint, tmp_path / "fp32" / "model.onnx")
    assert sizes["all"] < sizes["blocks"] < 1.05 * sizes["all"] < sizes["embeddings"] < plain["files"]["text"]["bytes"]
    graph = onnx.load(str(model_files(tmp_path / "embeddings" / "model.onnx")["text"])).graph
    dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    users = {node.op_type for node in graph.node if dequantized & set(node.input)}
    assert dequantized and users == {"Gather"}  # no MatMul reads an int8 weight
    close = {scope: card["text_quantization"]["feature_max_abs"] for scope, card in cards.items()}
    assert close["embeddings"] < close["blocks"] < close["all"]


def test_an_unknown_int8_scope_is_refused_before_anything_is_written(trained, tmp_path):
    with pytest.raises(ExportError, match="--quantize-text 'half': choose one of all, blocks, embeddings"):
        export_model(trained[1].checkpoint, tmp_path / "model.onnx", quantize_text="half")
    assert not any(tmp_path.iterdir())


def test_a_checkpoint_that_would_run_code_is_refused_before_it_runs(trained, tmp_path):
    import os

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    checkpoint = torch.load(trained[1].checkpoint, weights_only=True)
    torch.save({**checkpoint, "extra": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ExportError, match="refusing to load it"):
        export_model(tmp_path / "evil.pt", tmp_path / "model.onnx")
    config = load_run_config(None, [*QUICK, f"train.init_checkpoint={tmp_path / 'evil.pt'}"])
    with pytest.raises(Exception, match="holds objects other than tensors"):
        Trainer(trained[0].dataset_dir, tmp_path / "run", config, progress=False)
    assert not marker.exists()


def test_cli_trains_tracks_in_mlflow_and_exports(tmp_path, dataset_factory):
    dataset = dataset_factory(tmp_path / "ds", 10, frames=8)
    result = subprocess.run(
        [
            "ocelot",
            "train",
            "--dataset",
            str(dataset),
            "--output",
            str(tmp_path / "runs" / "r1"),
            "--quiet",
            *QUICK[:1],
            "train.epochs=2",
            "train.batch_size=16",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "runs" / "r1" / "export" / "model.onnx").is_file()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["ocelot"], output_format="list")
    assert len(runs) == 1 and "val_mse" in runs[0].data.metrics
    assert runs[0].data.params["model.vision.backend"] == "cnn"
    client = mlflow.MlflowClient()
    run_id = runs[0].info.run_id
    assert len(client.get_metric_history(run_id, "val_mse")) == 2
    assert {a.path for a in client.list_artifacts(run_id, "model")} >= {"model/model.onnx", "model/model.card.json"}


@pytest.mark.parametrize("problem", ["corrupt", "typo", "empty_split"])
def test_bad_input_stops_before_training(tmp_path, problem, dataset_factory):
    dataset = dataset_factory(tmp_path / "ds", 10, frames=6)
    args = []
    if problem == "corrupt":
        victim = episode_path(dataset, int(FrameDataset(dataset, "train").index.episodes[1]))
        victim.write_bytes(victim.read_bytes()[:2000])  # truncated
        expect = victim.name
    elif problem == "typo":
        args, expect = ["train.learnig_rate=1e-3"], "unknown key"
    else:
        (dataset / "val.txt").write_text("")
        expect = "val split"
    result = subprocess.run(
        [
            "ocelot",
            "train",
            "--dataset",
            str(dataset),
            "--output",
            str(tmp_path / "run"),
            "--no-mlflow",
            "--quiet",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and expect in result.stderr, result.stderr
    assert not (tmp_path / "run" / "best.pt").exists()


def test_previous_action_model_trains_and_exports_with_int8_text(tiny_dataset, tmp_path):
    import onnxruntime as ort

    config = load_run_config(None, [*QUICK, "train.epochs=1", "model.previous_action=true"])
    result = Trainer(tiny_dataset, tmp_path / "run", config, progress=False).run()
    card = export_model(result.checkpoint, tmp_path / "model.onnx", quantize_text="all")
    assert card["policy"]["inputs"][-1] == "previous_action" and max(card["parity_max_abs"].values()) <= 1e-5
    quantized = card["text_quantization"]
    limits = quantized["read_out_tolerance_px"]
    assert quantized["read_out_max_px"] <= limits["max"] and quantized["read_out_mean_px"] <= limits["mean"]
    assert np.isfinite(quantized["action_max_abs"]) and quantized["feature_cosine_min"] > 0.99
    assert quantized["frames_checked"] >= 4 and str(tiny_dataset) in quantized["frames_from"]  # dataset frames
    text = model_files(tmp_path / "model.onnx")["text"]
    ops = {node.op_type for node in __import__("onnx").load(str(text)).graph.node}
    assert "DequantizeLinear" in ops
    assert card["files"]["text"]["bytes"] == text.stat().st_size
    ort.InferenceSession(str(text))  # loads and runs in onnxruntime as shipped


def test_frozen_mobilenet_trains_on_cached_tokens_at_either_stride_and_exports(dataset_factory, tmp_path):
    dataset, cache = dataset_factory(tmp_path / "small", n_episodes=10, frames=6), tmp_path / "cache"
    trainers, runs = {}, {}
    for stride in (16, 32):
        config = load_run_config(
            None,
            [
                *QUICK,
                "train.epochs=1",
                "model.vision.backend=mobilenet_v2",
                f"model.vision.mobilenet_stride={stride}",
                f"train.cache_dir={cache}",
                # exported below
                *(
                    [
                        "model.visual_self_attention=true",
                        "model.vision.colour_cells=true",
                        "model.cell_offsets=true",
                        "model.attribute_cells=true",
                        "train.attribute_loss_weight=1",
                    ]
                    if stride == 16
                    else []
                ),
            ],
        )
        trainers[stride] = Trainer(dataset, tmp_path / f"run{stride}", config, progress=False)
        runs[stride] = trainers[stride].run()
    # one token file per episode and stride, and no exported encoder left behind
    files = sorted(f.name for directory in cache.iterdir() for f in directory.iterdir())
    episodes = len(trainers[16].train_frames.index.episodes) + len(trainers[16].val_frames.index.episodes)
    assert len(files) == 2 * episodes and sum(".6x196x144." in f for f in files) == episodes
    assert sum(".6x49x1280." in f for f in files) == episodes
    # the tokens cached through onnxruntime are the PyTorch encoder's, to fp16 precision
    trainer = trainers[16]
    frames = torch.from_numpy(np.stack([trainer.val_frames.frame_input(i) for i in (0, 2, 5)]))
    with torch.no_grad():
        expected = trainer.policy.vision(frames).numpy()
    cached = np.stack([trainer.val_set.tokens[i] for i in (0, 2, 5)]).astype(np.float32)
    np.testing.assert_allclose(cached, expected, atol=2e-3 * np.abs(expected).max())
    card = export_model(runs[16].checkpoint, tmp_path / "model.onnx")
    assert max(card["parity_max_abs"].values()) <= 1e-4
    model = card["config"]["model"]
    assert model["visual_self_attention"] and model["vision"]["colour_cells"] and model["cell_offsets"]
    assert model["attribute_cells"]
    # all trained away from their no-op starts: the parity covers them
    assert trainer.policy.fusion[0].self_attn.out.weight.abs().max() > 0
    assert trainer.policy.colour.out.weight.abs().max() > 0
    assert trainer.policy.cell_offset.weight.abs().max() > 0
    assert trainer.policy.attribute.gain.abs() > 0
    from ocelot_train.graph_weights import checkpoint_from_model

    recovered = checkpoint_from_model(tmp_path / "model.onnx")["state_dict"]  # the offsets read back too
    torch.testing.assert_close(recovered["cell_offset.weight"], trainer.policy.cell_offset.weight.detach())
    torch.testing.assert_close(recovered["attribute.gain"], trainer.policy.attribute.gain.detach())  # not folded


def test_an_encoder_that_exports_differently_is_not_cached(tmp_path):
    class Noisy(torch.nn.Module):  # traced with its randomness: the exported graph's output differs
        def forward(self, frames):
            return frames.mean(1).flatten(1)[:, :, None] + torch.rand(frames.shape[0], 1, 1)

    with pytest.raises(RuntimeError, match="differs from PyTorch"):
        encoder_session(Noisy(), tmp_path, np.zeros((2, 3, 224, 224), np.float32))
    assert not list(tmp_path.iterdir())


def test_previous_target_model_warm_starts_from_a_previous_action_one_and_exports(tiny_dataset, tmp_path):
    import onnxruntime as ort

    base = Trainer(
        tiny_dataset,
        tmp_path / "base",
        load_run_config(None, [*QUICK, "train.epochs=1", "model.previous_action=true"]),
        progress=False,
    ).run()
    config = load_run_config(
        None,
        [
            *QUICK,
            "train.epochs=1",
            "model.previous_action=true",
            "train.max_val_samples=7",
            "model.previous_target=true",
            f"train.init_checkpoint={base.checkpoint}",
        ],
    )
    tuned = Trainer(tiny_dataset, tmp_path / "tuned", config, progress=False)
    start = torch.load(base.checkpoint, weights_only=True)["state_dict"]["head.0.weight"]
    widened = tuned.policy.head[0].weight.detach()
    torch.testing.assert_close(widened[:, : start.shape[1]], start)
    assert widened.shape[1] == start.shape[1] + 2 and not widened[:, start.shape[1] :].any()
    assert len(list(tuned.data.loader(tuned.val_set, train=False).sampler)) == 7  # a fixed subset of the val split
    result = tuned.run()
    assert np.isfinite(result.best["val_mse"])
    card = export_model(result.checkpoint, tmp_path / "model.onnx")
    assert card["policy"]["inputs"][-2:] == ["previous_action", "previous_target"]
    assert card["policy"]["outputs"] == ["actions", "target"] and card["parity_max_abs"]["policy"] <= 1e-5
    # the graph reads NaN as "no previous estimate": the same actions as the frame's own estimate
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    data = FrameDataset(tiny_dataset, "val")
    features, mask = encode_commands(
        tuned.text_encoder, tuned.tokenizer, [data.index.commands[0]], config.model.text.max_tokens
    )
    feeds = {
        "frames": data.frame_input(0)[None],
        "text_features": features.numpy(),
        "attention_mask": mask.numpy(),
        "previous_action": np.zeros((1, 2), np.float32),
        "previous_target": np.full((1, 2), np.nan, np.float32),
    }
    actions, target = session.run(None, feeds)
    again = session.run(None, {**feeds, "previous_target": target})[0]
    np.testing.assert_allclose(again, actions, atol=1e-6)
    assert np.isfinite(actions).all()
    # the tracking prior set at export: in the card's config and in the graph, where a previous estimate
    # far off moves the read-out (none, NaN, leaves it alone)
    card = export_model(result.checkpoint, tmp_path / "prior" / "model.onnx", track_prior=(0.05, 0.1, 30.0))
    assert {k: card["config"]["model"][f"track_prior_{k}"] for k in ("sigma", "radius", "cap")} == {
        "sigma": 0.05,
        "radius": 0.1,
        "cap": 30.0,
    }
    prior = ort.InferenceSession(str(tmp_path / "prior" / "model.onnx"))
    np.testing.assert_allclose(prior.run(None, feeds)[1], target, atol=1e-6)
    corner = -np.sign(target) * 0.9
    pulled = prior.run(None, {**feeds, "previous_target": corner.astype(np.float32)})[1]
    assert np.linalg.norm(pulled - corner) < np.linalg.norm(target - corner) - 0.1
    with pytest.raises(ExportError, match="--track-prior: model.track_prior_sigma, .* must be >= 0"):
        export_model(result.checkpoint, tmp_path / "bad" / "model.onnx", track_prior=(-1.0, 0.0, 4.0))


def test_a_tracking_prior_needs_the_previous_estimate(trained, tmp_path):
    with pytest.raises(ExportError, match="--track-prior: .*set model.previous_target to true"):
        export_model(trained[1].checkpoint, tmp_path / "model.onnx", track_prior=(0.1, 0.25, 4.0))
    assert not model_files(tmp_path / "model.onnx")["card"].exists()


def test_export_cli_says_how_to_write_a_tracking_prior(tmp_path, capsys):
    from ocelot_train.cli_export import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", "x.pt", "--output", str(tmp_path / "m.onnx"), "--track-prior", "0.1:wide"])
    assert exit_info.value.code == 2 and "must be SIGMA:RADIUS:CAP" in capsys.readouterr().err


def test_export_cli_quantize_text_defaults_to_all_and_names_its_scopes(tmp_path, capsys):
    import argparse

    from ocelot_train.cli_export import add_arguments, main

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--checkpoint", "x.pt", "--output", "m.onnx"]
    assert parser.parse_args(base).quantize_text is None
    assert parser.parse_args([*base, "--quantize-text"]).quantize_text == "all"
    assert parser.parse_args([*base, "--quantize-text", "blocks"]).quantize_text == "blocks"
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", "x.pt", "--output", str(tmp_path / "m.onnx"), "--quantize-text", "half"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "invalid choice: 'half'" in err and "embeddings" in err


def test_fine_tuning_starts_from_a_checkpoint_and_refuses_a_mismatched_one(trained, tiny_dataset, tmp_path):
    from ocelot_train.configuration_vla import ConfigError

    _, result = trained
    config = load_run_config(
        None,
        [
            *QUICK,
            "train.epochs=1",
            f"train.init_checkpoint={result.checkpoint}",
            "train.acquisition_weight=4",
            "train.label_weights={track: 2}",
        ],
    )
    tuned = Trainer(tiny_dataset, tmp_path / "tuned", config, progress=False)
    start = torch.load(result.checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(start[k], v) for k, v in tuned.policy.state_dict().items())
    tuned.run()
    # the auxiliary target loss moves the read-out onto the commanded square
    aimed = Trainer(
        tiny_dataset,
        tmp_path / "aimed",
        load_run_config(
            None, [*QUICK, "train.epochs=2", f"train.init_checkpoint={result.checkpoint}", "train.target_loss_weight=5"]
        ),
        progress=False,
    ).run()
    before, after = result.best["val_target_error_px"], aimed.history[-1]["val_target_error_px"]
    assert np.isfinite(before) and after < 0.7 * before, (before, after)
    other = load_run_config(None, [*QUICK, "model.d_model=64", f"train.init_checkpoint={result.checkpoint}"])
    with pytest.raises(ConfigError, match="cannot start this model"):
        Trainer(tiny_dataset, tmp_path / "other", other, progress=False)
    misspelt = load_run_config(None, [*QUICK, "train.label_weights={multi_atr: 3}"])
    with pytest.raises(ConfigError, match="label_weights: multi_atr: no episode of the train split has this label"):
        Trainer(tiny_dataset, tmp_path / "misspelt", misspelt, progress=False)


def test_train_only_trains_the_named_parts_and_refuses_a_prefix_that_names_none(trained, tiny_dataset, tmp_path):
    from ocelot_train.configuration_vla import ConfigError

    _, result = trained
    start = [*QUICK, "train.epochs=1", f"train.init_checkpoint={result.checkpoint}"]
    config = load_run_config(None, [*start, "train.train_only=[score, text_proj]"])
    tuned = Trainer(tiny_dataset, tmp_path / "tuned", config, progress=False).run()
    before = torch.load(result.checkpoint, weights_only=True)["state_dict"]
    after = torch.load(tuned.checkpoint, weights_only=True)["state_dict"]
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"score.weight", "score.bias", "text_proj.weight", "text_proj.bias"}
    with pytest.raises(ConfigError, match="no trainable parameter of this model starts with 'colour'; its trainable"):
        Trainer(tiny_dataset, tmp_path / "none", load_run_config(None, [*start, "train.train_only=[colour]"]))
    with pytest.raises(ConfigError, match="must be a list of parameter-name prefixes"):
        load_run_config(None, [*start, "train.train_only=colour"])


LAW = ["model.previous_action=true", "model.earlier_action=true", "model.previous_target=true", "model.head=law"]


FROZEN = ["model.vision.backend=mobilenet_v2", "model.vision.mobilenet_stride=16"]


@pytest.fixture(scope="module")
def frozen_run(dataset_factory, tmp_path_factory):
    """A frozen-MobileNetV2 model with an MLP head taking its previous command and target, exported."""
    root = tmp_path_factory.mktemp("frozen")
    dataset = dataset_factory(root / "data", n_episodes=10, frames=6)
    overrides = [*QUICK, *FROZEN, "train.epochs=1", "model.previous_action=true", "model.previous_target=true"]
    result = Trainer(dataset, root / "run", load_run_config(None, overrides), progress=False).run()
    export_model(result.checkpoint, root / "model" / "model.onnx")
    return dataset, result.checkpoint, root / "model" / "model.onnx"


def first_val_frame_feeds(dataset, trainer: Trainer, commands_before: float) -> dict:
    """A law-head graph's inputs for the first validation frame with its episode's command: both commands before
    it at `commands_before` (rad/s, each axis) and no previous estimate."""
    data = FrameDataset(dataset, "val")
    text, mask = encode_commands(trainer.text_encoder, trainer.tokenizer, [data.index.commands[0]], 16)
    return {
        "frames": data.frame_input(0)[None],
        "text_features": text.numpy(),
        "attention_mask": mask.numpy(),
        "previous_action": np.full((1, 2), commands_before, np.float32),
        "earlier_action": np.full((1, 2), commands_before, np.float32),
        "previous_target": np.full((1, 2), np.nan, np.float32),
    }


def test_a_law_head_starts_from_an_exported_mlp_model_fits_its_gains_and_exports(frozen_run, tmp_path):
    import onnxruntime as ort

    from ocelot_train.configuration_vla import ConfigError
    from ocelot_train.law_head import oracle_gains

    with pytest.raises(ConfigError, match="earlier_action"):
        load_run_config(None, [*QUICK, "model.previous_action=true", "model.previous_target=true", "model.head=law"])
    with pytest.raises(ConfigError, match=r"model.law_gains: law gains must be 4 rows"):
        load_run_config(None, [*QUICK, *LAW, "model.law_gains=[[7, 7], [1, 1]]"])
    dataset, checkpoint, model = frozen_run
    config = load_run_config(None, [*QUICK, *FROZEN, "train.epochs=1", *LAW, f"train.init_checkpoint={model}"])
    tuned = Trainer(dataset, tmp_path / "law", config, progress=False)
    # the read-out is the exported model's, read back from its graph; the gains start as the oracle's
    start = torch.load(checkpoint, weights_only=True)["state_dict"]
    for name in ("score.weight", "text_proj.weight", "fusion.1.attn.q.weight"):
        torch.testing.assert_close(tuned.policy.state_dict()[name], start[name])
    np.testing.assert_array_equal(tuned.policy.law.gains.numpy(), oracle_gains())
    gains = tuned.fit_law_gains()
    assert not np.allclose(gains, oracle_gains()) and np.isfinite(gains).all()
    result = tuned.run()
    saved = torch.load(result.checkpoint, weights_only=True)
    np.testing.assert_allclose(saved["config"]["model"]["law_gains"], gains)  # the config carries them
    assert np.isfinite(result.best["val_mse"])
    card = export_model(result.checkpoint, tmp_path / "model.onnx")
    assert card["policy"]["inputs"][-3:] == ["previous_action", "earlier_action", "previous_target"]
    assert card["parity_max_abs"]["policy"] <= 1e-5
    # the earlier command is an input of the graph: it moves the command as the law's k2 says
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    feeds = first_val_frame_feeds(dataset, tuned, commands_before=0.0)
    resting = session.run(None, feeds)[0]
    nudged = session.run(None, {**feeds, "earlier_action": np.full((1, 2), 0.01, np.float32)})[0]
    k2 = gains[3]
    free = np.abs(resting[0]) < 0.98 * config.model.max_velocity  # an axis at the joint limit stays there
    assert free.any()
    np.testing.assert_allclose((nudged - resting)[0][free], 0.01 * k2[free], atol=1e-5)


def test_export_puts_the_predictive_head_on_a_read_out_and_the_graph_carries_its_state(frozen_run, tmp_path):
    import onnxruntime as ort

    from ocelot_train.configuration_vla import ConfigError
    from ocelot_train.export import read_predictive_law
    from ocelot_train.graph_weights import checkpoint_from_model

    settings = {
        "gain": [0.7, 0.6],
        "alpha": [0.8, 0.8],
        "beta": [0.5, 0.4],
        "latency_s": 0.1,
        "time_constant_s": [0.06, 0.04],
    }
    with pytest.raises(ConfigError, match="model.head: predictive predicts the camera's turn"):
        load_run_config(None, [*QUICK, "model.head=predictive", f"model.predictive_law={json.dumps(settings)}"])
    with pytest.raises(ConfigError, match="model.predictive_law is the predictive head's"):
        load_run_config(None, [*QUICK, *LAW, f"model.predictive_law={json.dumps(settings)}"])
    with pytest.raises(ConfigError, match="train.fit_law_gains fits model.law_gains"):
        load_run_config(
            None,
            [
                *QUICK,
                *LAW[:3],
                "model.head=predictive",
                f"model.predictive_law={json.dumps(settings)}",
                "train.fit_law_gains=true",
            ],
        )
    dataset, mlp_checkpoint, model = frozen_run
    with pytest.raises(ExportError, match="--predictive-law: model.head: predictive .*model.earlier_action"):
        export_model(mlp_checkpoint, tmp_path / "refused" / "model.onnx", predictive_law=settings)
    config = load_run_config(None, [*QUICK, *FROZEN, *LAW, "train.epochs=1", f"train.init_checkpoint={model}"])
    trainer = Trainer(dataset, tmp_path / "law", config, progress=False)
    law_checkpoint = trainer.run().checkpoint
    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps({"predictive_law": settings, "law": "predictive"}))
    card = export_model(law_checkpoint, tmp_path / "model.onnx", predictive_law=read_predictive_law(tuned))
    assert card["policy"]["inputs"][-2:] == ["previous_target", "previous_law_state"]
    assert card["policy"]["outputs"] == ["actions", "target", "law_state"]
    assert card["config"]["model"]["head"] == "predictive" and card["config"]["model"]["predictive_law"] == settings
    assert card["parity_max_abs"]["policy"] <= 1e-5  # NaN and carried states alike (random_policy_inputs)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    feeds = first_val_frame_feeds(dataset, trainer, commands_before=0.2)
    feeds["previous_law_state"] = np.full((1, 6), np.nan, np.float32)
    first, target, state = session.run(None, feeds)
    assert np.isfinite(state).all()
    np.testing.assert_allclose(state[0, 4:], 0.2, atol=1e-6)  # joints at the velocity the commands set
    carried = session.run(None, {**feeds, "previous_target": target, "previous_law_state": state})[0]
    assert not np.allclose(carried, first, atol=1e-4)  # the camera's turn since the frame before moved the aim
    recovered = checkpoint_from_model(tmp_path / "model.onnx")  # a predictive model is read back from its graph
    assert recovered["config"]["model"]["predictive_law"] == settings
    # exported again from its own graph, with a folding law: a 12-number state, the same first frame
    folding = {**settings, "fold_margin_rad": 0.002}
    card = export_model(tmp_path / "model.onnx", tmp_path / "folding" / "model.onnx", predictive_law=folding)
    assert card["config"]["model"]["predictive_law"] == folding and card["parity_max_abs"]["policy"] <= 1e-5
    session = ort.InferenceSession(str(tmp_path / "folding" / "model.onnx"))
    assert session.get_inputs()[-1].shape == ["batch", 12]
    feeds["previous_law_state"] = np.full((1, 12), np.nan, np.float32)
    again, _, folded_state = session.run(None, feeds)
    np.testing.assert_allclose(again, first, atol=1e-6)
    np.testing.assert_allclose(folded_state[:, :6], state, atol=1e-6)
    with pytest.raises(ExportError, match="not a model written by `ocelot export`"):
        export_model(tmp_path / "missing" / "model.onnx", tmp_path / "none" / "model.onnx")
    with pytest.raises(ExportError, match="cannot read its predictive_law"):
        read_predictive_law(tmp_path / "missing.json")


def test_the_read_out_trains_alone_and_its_best_epoch_is_the_nearest_to_the_face(frozen_run, tmp_path):
    from ocelot_train.configuration_vla import ConfigError

    with pytest.raises(ConfigError, match="nothing to learn"):
        load_run_config(None, [*QUICK, "train.action_loss_weight=0", "train.target_loss_weight=0"])
    dataset, _, model = frozen_run
    gains = [[2.5, 2.5], [1.0, 1.0], [0.0, 0.0], [0.9, 0.9]]
    overrides = [*QUICK, *FROZEN, *LAW, f"model.law_gains={gains}", f"train.init_checkpoint={model}"]
    config = load_run_config(None, [*overrides, "train.action_loss_weight=0", "train.target_loss_weight=1"])
    result = Trainer(dataset, tmp_path / "read_out", config, progress=False).run()
    errors = [row["val_target_error_px"] for row in result.history]
    assert len(errors) == 3 and result.best["val_target_error_px"] == min(errors)
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["config"]["model"]["law_gains"] == gains  # set for the robot, not trained


def test_an_exported_model_reads_back_as_its_checkpoint_and_a_mismatched_one_is_refused(frozen_run, trained, tmp_path):
    import json
    import shutil

    from ocelot_train.graph_weights import GraphWeightsError, checkpoint_from_model

    _, checkpoint, model = frozen_run
    recovered = checkpoint_from_model(model.parent)
    original = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert recovered["state_dict"].keys() == original.keys()
    for name, value in original.items():
        torch.testing.assert_close(recovered["state_dict"][name], value)
    shutil.copytree(model.parent, tmp_path / "copy")
    card_path = tmp_path / "copy" / "model.card.json"
    card = json.loads(card_path.read_text())
    card["config"]["model"]["head_hidden"] = 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(GraphWeightsError, match=r"head\.\d\.\w+ is .* the config makes it"):
        checkpoint_from_model(tmp_path / "copy" / "model.onnx")
    # a trained CNN's batch norms are folded into its convolutions: not readable, and said so
    export_model(trained[1].checkpoint, tmp_path / "cnn" / "model.onnx")
    with pytest.raises(GraphWeightsError, match="frozen pretrained encoder"):
        checkpoint_from_model(tmp_path / "cnn")
