"""Sampling: determinism, batching, line ends and the sampling bias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from scribe.checkpoint import LoadedModel, load_model, model_checkpoint, save_checkpoint
from scribe.data import Alphabet
from scribe.generate import sample_lines, sample_offsets
from scribe.model import HandwritingModel, MixtureParams, ModelConfig


@pytest.fixture
def tiny_model(tmp_path: Path) -> LoadedModel:
    torch.manual_seed(0)
    alphabet = Alphabet("abcdefghijklmnopqrstuvwxyz ")
    config = ModelConfig(kind="graves", vocab_size=len(alphabet), hidden=16, layers=2, mixtures=3, window_mixtures=2, encoder_dim=8, embed_dim=8)
    model = HandwritingModel(config)
    path = tmp_path / "tiny.pth"
    save_checkpoint(model_checkpoint(model, alphabet, np.array([2.0, 0.0, 0.1]), np.array([5.0, 5.0, 0.3]), step=1), path)
    return load_model(path)


def test_same_seed_gives_identical_lines(tiny_model: LoadedModel) -> None:
    a = sample_lines(tiny_model, ["hello", "world wide"], seed=7)
    b = sample_lines(tiny_model, ["hello", "world wide"], seed=7)
    c = sample_lines(tiny_model, ["hello", "world wide"], seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.offsets, y.offsets)
    assert any(not np.array_equal(x.offsets, z.offsets) for x, z in zip(a, c))


def test_lines_follow_the_stroke_format_and_stop(tiny_model: LoadedModel) -> None:
    lines = sample_lines(tiny_model, ["ab", "a much longer line of text"], seed=1, max_steps_per_character=5)
    for line in lines:
        assert line.offsets.dtype == np.float32 and line.offsets.shape[1] == 3
        assert np.all(line.offsets[0] == 0)
        assert line.offsets[-1, 2] == 1.0
        assert set(np.unique(line.offsets[:, 2])) <= {0.0, 1.0}
        assert len(line.offsets) == line.steps + 1
        characters = len(line.text) + 1
        assert line.steps <= characters * 5


def test_bias_sharpens_the_mixture() -> None:
    params = MixtureParams(
        pi_logits=torch.tensor([[0.0, 0.5]]).expand(4000, 2),
        mu=torch.tensor([[[0.0, 0.0], [10.0, 10.0]]]).expand(4000, 2, 2),
        log_sigma=torch.zeros(4000, 2, 2),
        rho=torch.zeros(4000, 2),
        pen_logits=torch.zeros(4000, 1),
    )
    generator = torch.Generator().manual_seed(0)
    plain = sample_offsets(params, bias=0.0, temperature=1.0, generator=generator)
    biased = sample_offsets(params, bias=3.0, temperature=1.0, generator=generator)
    near_second = lambda xy: (xy[:, 0] > 5).float().mean().item()  # noqa: E731
    assert 0.55 < near_second(plain) < 0.7  # softmax([0, 0.5]) = 0.62
    assert near_second(biased) > 0.85  # pi = softmax(pi_hat * (1 + b))
    spread = lambda xy: (xy - xy.mean(0)).abs().mean().item()  # noqa: E731
    assert spread(biased[biased[:, 0] > 5]) < spread(plain[plain[:, 0] > 5]) / 5  # sigma = exp(sigma_hat - b)
