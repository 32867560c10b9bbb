"""Training and inference speed of the policy configurations.

    python bench/train_speed.py [--dataset DIR] [--steps 20] [--skip-dinov2]

Prints: training samples/s end to end (frames through the encoders) and on cached
frozen features; feature-caching frames/s; ONNX per-frame latency (p50/p95) on 1 and
2 onnxruntime threads for the default (CNN + MiniLM), MobileNetV2 cut at stride 16, and
the DINOv2-small + CLIP text design (the largest encoders configured, real size, random weights, saved and loaded
with save_pretrained).
Without --dataset it writes a small synthetic dataset first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def synthetic_dataset(root: Path, episodes: int = 20, frames: int = 50) -> Path:
    from ocelot_dataset.episode_io import Episode, write_episode
    from ocelot_dataset.index import finalize_dataset

    rng = np.random.default_rng(0)
    for i in range(episodes):
        images = rng.integers(0, 255, (frames, 224, 224, 3), dtype=np.uint8)
        zeros = np.zeros(frames, np.float32)
        write_episode(
            root,
            Episode(
                i,
                images,
                rng.uniform(-1, 1, frames).astype(np.float32),
                zeros,
                zeros,
                np.zeros(frames, bool),
                np.arange(frames) * 0.1,
                "track the face",
                "track",
                {"scenario_id": f"s{i}"},
            ),
        )
    finalize_dataset(root, {})
    return root


def train_rate(trainer, steps: int) -> float:
    from torch.utils.data import DataLoader

    policy = trainer.policy.train()
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-4)
    loader = iter(DataLoader(trainer.train_set, batch_size=32, shuffle=True))
    batch = next(loader)
    seen, start = 0, time.perf_counter()
    for step in range(steps):
        if step == 2:
            seen, start = 0, time.perf_counter()  # the first steps warm up allocators
        rows = trainer.data.command_rows(batch["command"], "train")
        loss, _ = policy(trainer.data.step_batch(batch, rows))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(rows)
        batch = next(loader, None) or next(iter(DataLoader(trainer.train_set, batch_size=32, shuffle=True)))
    return seen / (time.perf_counter() - start)


def onnx_latency(model_path: Path, threads: int, runs: int = 40) -> tuple[float, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in session.get_inputs()}
    tokens, dim = shapes["text_features"][1], shapes["text_features"][2]
    feeds = {
        "frames": np.random.default_rng(0).normal(0, 1, (1, 3, 224, 224)).astype(np.float32),
        "text_features": np.random.default_rng(1).normal(0, 1, (1, tokens, dim)).astype(np.float32),
        "attention_mask": np.ones((1, tokens), np.int64),
    }
    for _ in range(3):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def export_random(config_overrides: list[str], out: Path) -> Path:
    """Save an untrained policy as a checkpoint and export it with the project's export."""
    from ocelot_train.configuration_vla import load_run_config
    from ocelot_train.encoders_text import build_text_encoder
    from ocelot_train.export import export_model
    from ocelot_train.modeling_vla import VLAPolicy

    config = load_run_config(None, config_overrides)
    text_encoder, _ = build_text_encoder(config.model.text)
    policy = VLAPolicy(config.model, text_encoder.out_dim)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"config": config.to_dict(), "text_dim": text_encoder.out_dim, "state_dict": policy.state_dict()},
        out / "random.pt",
    )
    export_model(out / "random.pt", out / "model.onnx", tolerance=1e-4)
    return out / "model.onnx"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="a collected dataset (default: a synthetic one)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per measurement (batch 32)")
    parser.add_argument("--skip-dinov2", action="store_true", help="skip the real-size DINOv2 + CLIP export")
    args = parser.parse_args()
    from ocelot_common.model_files import model_files
    from ocelot_train.configuration_vla import load_run_config
    from ocelot_train.train_loop import Trainer

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dataset = Path(args.dataset) if args.dataset else synthetic_dataset(tmp / "ds")
        print(f"dataset {dataset}; torch threads {torch.get_num_threads()}; batch 32")
        cnn = Trainer(dataset, tmp / "run", load_run_config(None, ["train.augment=false"]), progress=False)
        print(f"train, CNN + MiniLM end to end (frames from HDF5):   {train_rate(cnn, args.steps):7.1f} samples/s")
        for stride in (16, 32):  # the stride-32 trainer is measured further on
            frozen = [
                "model.vision.backend=mobilenet_v2",
                f"model.vision.mobilenet_stride={stride}",
                f"train.cache_dir={tmp / 'cache'}",
                "train.augment=false",
            ]
            start = time.perf_counter()
            mobilenet = Trainer(dataset, tmp / f"run{stride}", load_run_config(None, frozen), progress=False)
            n = len(mobilenet.train_set) + len(mobilenet.val_set)
            print(
                f"feature caching (onnxruntime), MobileNetV2 stride {stride}: {n / (time.perf_counter() - start):6.1f} "
                f"frames/s ({n} frames, set-up included)"
            )
        print(
            f"train, MobileNetV2 features cached (fusion + head):  {train_rate(mobilenet, args.steps):7.1f} samples/s"
        )
        mobilenet.train_set = mobilenet.train_frames  # same model, features recomputed every step
        print(
            f"train, MobileNetV2 frozen, end to end:               {train_rate(mobilenet, args.steps):7.1f} samples/s"
        )
        configs = {
            "default (CNN + MiniLM)": [],
            "MobileNetV2 to stride 16 + MiniLM": [
                "model.vision.backend=mobilenet_v2",
                "model.vision.mobilenet_stride=16",
            ],
        }
        if not args.skip_dinov2:
            from transformers import CLIPTextConfig, CLIPTextModel, Dinov2Config, Dinov2Model

            Dinov2Model(
                Dinov2Config(
                    hidden_size=384, num_attention_heads=6, intermediate_size=1536, patch_size=14, image_size=224
                )
            ).save_pretrained(tmp / "dinov2-small")
            CLIPTextModel(CLIPTextConfig()).save_pretrained(tmp / "clip-text")
            configs["DINOv2-small + CLIP (random weights)"] = [
                "model.vision.backend=dinov2",
                f"model.vision.pretrained={tmp / 'dinov2-small'}",
                "model.text.backend=clip",
                f"model.text.pretrained={tmp / 'clip-text'}",
                "model.d_model=256",
                "model.n_heads=8",
            ]
        for name, overrides in configs.items():
            path = export_random(overrides, tmp / name.split()[0])
            size = path.stat().st_size / 2**20
            text_size = model_files(path)["text"].stat().st_size / 2**20
            for threads in (1, 2):
                p50, p95 = onnx_latency(path, threads)
                print(
                    f"onnxruntime per frame, {name}, {threads} thread(s): p50 {p50:6.1f} ms  p95 {p95:6.1f} ms "
                    f"(policy graph {size:.1f} MiB, text graph {text_size:.0f} MiB, once per command)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
