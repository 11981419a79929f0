"""Training speed: sequences per second for a model size, on CPU (and CUDA when present).

    python benchmarks/train_speed.py                   # default model (3 x 400), 300-point lines
    python benchmarks/train_speed.py --hidden 256 --points 600 --kind vae

Synthetic batches of the given shape are used, so the figure measures the model
and the training step only (forward, backward, clipping, Adam), not data loading.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from scribe.training.data import Batch
from scribe.training.kinds import writer_loss
from scribe.training.networks import HandwritingModel
from scribe.training.options import TrainOptions
from scribe.writing.stored import GRAVES, KINDS, WriterConfig


def synthetic_batch(batch_size: int, points: int, characters: int, vocab: int, device: str) -> Batch:
    gen = torch.Generator().manual_seed(0)
    offsets = torch.randn(batch_size, points, 3, generator=gen)
    offsets[..., 2] = (torch.rand(batch_size, points, generator=gen) < 0.08).float()
    return Batch(
        offsets=offsets,
        offsets_mask=torch.ones(batch_size, points, dtype=torch.bool),
        text_ids=torch.randint(2, vocab, (batch_size, characters + 1), generator=gen),
        text_mask=torch.ones(batch_size, characters + 1, dtype=torch.bool),
        writers=torch.zeros(batch_size, dtype=torch.long),
        texts=[""] * batch_size,
    ).to(device)


def measure(options: TrainOptions, points: int, characters: int, steps: int, device: str) -> dict:
    config = WriterConfig(kind=options.kind, vocab_size=82, kappa_scale=22.0, **options.architecture)
    model = HandwritingModel(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    batch = synthetic_batch(options.batch_size, points, characters, 82, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")

    def step() -> None:
        with autocast:
            loss, _ = writer_loss(model, batch, 0, options)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
        optimizer.step()

    step()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return {
        "device": device,
        "model": options.kind,
        "hidden": config.hidden,
        "layers": config.layers,
        "batch_size": options.batch_size,
        "points": points,
        "seconds_per_step": round(seconds, 3),
        "sequences_per_second": round(options.batch_size / seconds, 2),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default=GRAVES, choices=[name for name, kind in KINDS.items() if kind.writes])
    parser.add_argument("--hidden", type=int, default=WriterConfig.hidden)
    parser.add_argument("--layers", type=int, default=WriterConfig.layers)
    parser.add_argument("--batch-size", type=int, default=TrainOptions.batch_size)
    parser.add_argument("--points", type=int, default=300, help="points per line")
    parser.add_argument("--characters", type=int, default=30, help="characters per line")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    options = TrainOptions(
        data_dir=Path("."), out_dir=Path("."), kind=args.kind, batch_size=args.batch_size,
        architecture={"hidden": args.hidden, "layers": args.layers},
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        print(json.dumps(measure(options, args.points, args.characters, args.steps, device)))


if __name__ == "__main__":
    main()
