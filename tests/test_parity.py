"""The NumPy twin that ``scribe write`` samples with computes what the trained PyTorch network computes.

Every field the sampler reads is compared step by step (the mixture, the pen, the
soft window) for decoders of 1, 2 and 3 layers and every kind of model that writes,
plus the VAE's style encoding. The random weights are scaled up so that a sign
error or a missing nonlinearity cannot hide in near-zero activations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from scribe.ink.alphabet import Alphabet
from scribe.training.checkpoint import stored_model
from scribe.training.networks import HandwritingModel, MixtureParams
from scribe.writing.network import InferenceModel, Mixture, load_inference_model
from scribe.writing.sampling import encode_texts
from scribe.writing.stored import KINDS, WriterConfig

ALPHABET = Alphabet("abcdefghijklmnopqrstuvwxyz ")
TEXTS = ["a tiny line", "pad me"]  # the second row is padded: padding must not leak into the window
STEPS = 12
TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}  # float32; the two differ by ~2e-6 here, the mutations guarded against by units
MIXTURE_FIELDS = ("pi_logits", "mu", "log_sigma", "rho", "pen_logits")
# (kind, writer styles, style ids per row): "graves" plain, with writer styles, and the VAE (driven by a z).
CASES = {"graves": ("graves", 0, None), "graves-styles": ("graves", 3, [2, 3]), "vae": ("vae", 0, None)}


def loud_model(kind: str, layers: int, styles: int) -> HandwritingModel:
    """A seeded random model whose activations are far from zero.

    PyTorch's default initialization keeps every pre-activation small, where
    tanh(x) ~ x and softmax(-x) ~ softmax(x) to within a few percent; scaled-up
    weights and biases (and rho's pre-activations of several units) make a
    dropped tanh or a flipped sign show at once.
    """
    torch.manual_seed(layers * 10 + styles)
    config = WriterConfig(
        kind=kind, vocab_size=len(ALPHABET), embed_dim=6, encoder_dim=5, hidden=8, layers=layers, mixtures=4,
        window_mixtures=3, kappa_scale=4.0, latent_dim=3, stroke_encoder_dim=6, styles=styles, style_dim=4,
    )
    model = HandwritingModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(2.5)
        model.decoder.head.linear.weight.normal_(0, 1.5)
        model.decoder.head.linear.bias.normal_(0, 2.0)
    return model


def numpy_twin(model: HandwritingModel, folder: Path) -> InferenceModel:
    """The model as ``scribe write`` gets it: exported to a model file (in float32, to compare tightly) and loaded."""
    path = folder / "model.npz"
    stored_model(model, ALPHABET, np.zeros(3, np.float32), np.ones(3, np.float32), step=1).save(path, np.float32)
    return load_inference_model(path)


def mixture_fields(params: MixtureParams | Mixture) -> dict[str, np.ndarray]:
    """Every quantity the sampler derives from the head, raw and transformed, as float64 arrays."""
    fields = {name: np.asarray(getattr(params, name), np.float64) for name in MIXTURE_FIELDS}
    shifted = np.exp(fields["pi_logits"] - fields["pi_logits"].max(-1, keepdims=True))
    fields["pi"] = shifted / shifted.sum(-1, keepdims=True)
    fields["sigma"] = np.exp(fields["log_sigma"])
    return fields


def teacher_points(seed: int) -> np.ndarray:
    """(B, STEPS, 3) normalized points with pen lifts, fed to both networks."""
    rng = np.random.default_rng(seed)
    points = rng.normal(0, 1.5, (len(TEXTS), STEPS, 3)).astype(np.float32)
    points[..., 2] = rng.random((len(TEXTS), STEPS)) < 0.25
    return points


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("variant", list(CASES))
def test_every_step_of_the_numpy_twin_matches_torch(variant: str, layers: int, tmp_path: Path) -> None:
    kind, styles, style_ids = CASES[variant]
    model = loud_model(kind, layers, styles)
    twin = numpy_twin(model, tmp_path)
    text_ids, text_mask = encode_texts(ALPHABET, TEXTS)
    points = teacher_points(layers)
    if kind == "vae":
        cond = np.random.default_rng(layers).normal(0, 1.5, (len(TEXTS), 3)).astype(np.float32)  # a z per line
        torch_cond = torch.from_numpy(cond)
    elif style_ids:  # each side looks up its own style vectors
        cond, torch_cond = twin.style_vectors(np.array(style_ids)), model.style(torch.tensor(style_ids))
    else:
        cond = torch_cond = None

    contexts: list[torch.Tensor] = []  # the torch window's reading at each step (DecoderOutput keeps phi and kappa only)
    model.decoder.window.register_forward_hook(lambda _module, _inputs, window: contexts.append(window.context))
    with torch.no_grad():
        state = model.start(torch.from_numpy(text_ids), torch.from_numpy(text_mask), torch_cond)
        out = model.decoder(torch.from_numpy(points), state)
    expected = mixture_fields(out.params)
    assert np.abs(expected["rho"]).max() > 0.95, "rho's pre-activations must go well past 1 for a lost tanh to show"
    assert np.ptp(expected["pi_logits"], axis=-1).min() > 0.5, "flat pi logits would hide a flipped sign"

    numpy_state = twin.start(text_ids, text_mask, cond)
    for t in range(STEPS):
        mixture = twin.step(points[:, t], numpy_state)
        for name, value in mixture_fields(mixture).items():
            np.testing.assert_allclose(value, expected[name][:, t], **TOLERANCE, err_msg=f"{name} at step {t}")
        window = {"kappa": out.kappa[:, t], "phi": out.phi[:, t], "context": contexts[t]}
        for name, value in window.items():
            np.testing.assert_allclose(getattr(numpy_state, name), value.numpy(), **TOLERANCE, err_msg=f"{name} at step {t}")


def test_vae_style_encoding_matches_torch(tmp_path: Path) -> None:
    """q(z|x) of each line alone in NumPy equals the batched, padded torch encoder's mean and log-variance."""
    model = loud_model("vae", 2, 0)
    twin = numpy_twin(model, tmp_path)
    points = teacher_points(7)
    lengths = [STEPS, STEPS - 5]
    mask = torch.arange(STEPS)[None, :] < torch.tensor(lengths)[:, None]
    with torch.no_grad():
        mu, log_var = model.encode_style(torch.from_numpy(points), mask)
    for row, length in enumerate(lengths):
        numpy_mu, numpy_log_var = twin.encode_style(points[row, :length])
        np.testing.assert_allclose(numpy_mu, mu[row].numpy(), **TOLERANCE)
        np.testing.assert_allclose(numpy_log_var, log_var[row].numpy(), **TOLERANCE)


def test_every_model_kind_that_writes_is_compared() -> None:
    assert {kind for kind, _, _ in CASES.values()} == {name for name, kind in KINDS.items() if kind.writes}
