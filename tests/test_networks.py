"""Model behaviour: shapes, a forward-only window, exact gradients, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scribe.ink.alphabet import Alphabet
from scribe.training.checkpoint import start_from, stored_model
from scribe.training.losses import sequence_nll
from scribe.training.networks import HandwritingModel
from scribe.writing.network import InferenceModel
from scribe.writing.stored import WriterConfig


def tiny_config(kind: str = "graves", **overrides: object) -> WriterConfig:
    values = dict(
        kind=kind, vocab_size=12, embed_dim=6, encoder_dim=5, hidden=8, layers=2, mixtures=3,
        window_mixtures=2, latent_dim=3, stroke_encoder_dim=6,
    )
    values.update(overrides)
    return WriterConfig(**values)  # type: ignore[arg-type]


def tiny_batch(batch: int = 3, steps: int = 14, chars: int = 5, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.randn(batch, steps, 3, generator=gen)
    offsets[..., 2] = (torch.rand(batch, steps, generator=gen) < 0.2).float()
    offsets_mask = torch.ones(batch, steps, dtype=torch.bool)
    offsets_mask[0, steps - 4 :] = False
    text_ids = torch.randint(2, 12, (batch, chars), generator=gen)
    text_mask = torch.ones(batch, chars, dtype=torch.bool)
    text_ids[1, chars - 2 :] = 0
    text_mask[1, chars - 2 :] = False
    return offsets, offsets_mask, text_ids, text_mask


@pytest.mark.parametrize("kind", ["graves", "vae"])
def test_output_shapes(kind: str) -> None:
    model = HandwritingModel(tiny_config(kind))
    offsets, offsets_mask, text_ids, text_mask = tiny_batch()
    out = model(offsets, offsets_mask, text_ids, text_mask)
    params = out.decoder.params
    assert params.mu.shape == (3, 13, 3, 2)
    assert params.pen_logits.shape == (3, 13, 1 if kind == "graves" else 3)
    assert out.decoder.phi.shape == (3, 13, 5)
    assert (out.mu is None) == (kind == "graves")
    assert torch.all(params.rho.abs() < 1)


def test_window_never_moves_backwards_and_ignores_padding() -> None:
    torch.manual_seed(1)
    model = HandwritingModel(tiny_config())
    with torch.no_grad():  # make the steps large and varied to give a reversal every chance
        model.decoder.window.params.weight.normal_(0, 3)
    offsets, offsets_mask, text_ids, text_mask = tiny_batch(steps=40)
    out = model(offsets, offsets_mask, text_ids, text_mask)
    kappa = out.decoder.kappa
    assert torch.all(kappa[:, 1:] >= kappa[:, :-1])
    assert torch.all(out.decoder.phi[1, :, 3:] == 0)


def numpy_twin(model: HandwritingModel) -> InferenceModel:
    return InferenceModel(stored_model(model, Alphabet("abcdefghij"), np.zeros(3), np.ones(3)))


@pytest.mark.parametrize(("kind", "styles"), [("graves", 0), ("graves", 3), ("vae", 0)])
def test_numpy_step_by_step_sampling_matches_torch_teacher_forcing(kind: str, styles: int) -> None:
    """The NumPy engine that ``scribe write`` samples with is the trained network, step for step."""
    torch.manual_seed(2)
    model = HandwritingModel(tiny_config(kind, styles=styles, style_dim=4)).eval()
    offsets, offsets_mask, text_ids, text_mask = tiny_batch()
    style_ids = torch.tensor([1, 0, 3]) if styles else None
    with torch.no_grad():
        full = model(offsets, offsets_mask, text_ids, text_mask, style_ids)
    twin = numpy_twin(model)
    if kind == "vae":
        cond = full.mu.numpy()
        mu, _ = twin.encode_style(offsets[0, : int(offsets_mask[0].sum())].numpy())
        np.testing.assert_allclose(mu, cond[0], atol=1e-5)
    else:
        cond = twin.style_vectors(style_ids.numpy()) if styles else None
    state = twin.start(text_ids.numpy(), text_mask.numpy(), cond)
    for t in range(offsets.shape[1] - 1):
        params = twin.step(offsets[:, t].numpy(), state)
        expected = full.decoder.params
        np.testing.assert_allclose(params.mu, expected.mu[:, t].numpy(), atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(params.log_sigma, expected.log_sigma[:, t].numpy(), atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(params.pen_logits, expected.pen_logits[:, t].numpy(), atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(state.phi, full.decoder.phi[:, t].numpy(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["graves", "vae"])
def test_gradients_match_finite_differences(kind: str) -> None:
    torch.manual_seed(3)
    model = HandwritingModel(tiny_config(kind, hidden=4, mixtures=2)).double().eval()
    offsets, offsets_mask, text_ids, text_mask = tiny_batch(batch=2, steps=6, chars=3)
    offsets = offsets.double()
    weight = model.decoder.window.params.weight

    def loss_of(w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            weight.copy_(w)
        out = model(offsets, offsets_mask, text_ids, text_mask)
        return sequence_nll(out.decoder.params, offsets[:, 1:], offsets_mask[:, 1:]).nll.sum()

    base = weight.detach().clone()
    loss = loss_of(base)
    (grad,) = torch.autograd.grad(loss, weight)
    assert torch.all(torch.isfinite(grad))
    eps = 1e-6
    for index in [(0, 0), (1, 2), (4, 3)]:
        bumped = base.clone()
        bumped[index] += eps
        up = loss_of(bumped).item()
        bumped[index] -= 2 * eps
        down = loss_of(bumped).item()
        assert abs((up - down) / (2 * eps) - grad[index].item()) < 1e-5 * max(1.0, abs(grad[index].item()))


@pytest.mark.parametrize("kind", ["graves", "vae"])
def test_overfits_one_tiny_batch(kind: str) -> None:
    torch.manual_seed(4)
    model = HandwritingModel(tiny_config(kind, hidden=32, mixtures=4))
    offsets, offsets_mask, text_ids, text_mask = tiny_batch(batch=2, steps=20)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        out = model(offsets, offsets_mask, text_ids, text_mask)
        terms = sequence_nll(out.decoder.params, offsets[:, 1:], offsets_mask[:, 1:])
        return terms.nll.sum() / terms.points.sum()

    first = loss().item()
    for _ in range(150):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    model.eval()  # the VAE then uses its posterior mean: the fit must not rely on sampling noise
    last = loss().item()
    assert last < first - 1.5, (first, last)


def test_config_round_trips_through_a_dict_and_refuses_unknown_fields() -> None:
    config = tiny_config("vae")
    assert WriterConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown_future_key"):
        WriterConfig.from_dict({**config.to_dict(), "unknown_future_key": 1})


def test_stroke_encoder_ignores_padding() -> None:
    from scribe.training.networks import StrokeEncoder, reverse_within_length

    x = torch.arange(10.0).view(2, 5, 1)
    reversed_x = reverse_within_length(x, torch.tensor([3, 5]))
    assert reversed_x[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    torch.manual_seed(5)
    encoder = StrokeEncoder(tiny_config("vae"))
    offsets, mask, _, _ = tiny_batch()
    padded = offsets.clone()
    padded[~mask] = 123.0  # whatever sits in the padding must not matter
    for a, b in zip(encoder(offsets, mask), encoder(padded, mask)):
        torch.testing.assert_close(a, b)
    alone = encoder(offsets[:1, : int(mask[0].sum())], mask[:1, : int(mask[0].sum())])
    torch.testing.assert_close(alone[0], encoder(offsets, mask)[0][:1])


def test_writer_styles_change_the_output_and_default_to_any_writer() -> None:
    torch.manual_seed(4)
    model = HandwritingModel(tiny_config(styles=3, style_dim=4)).eval()
    offsets, offsets_mask, text_ids, text_mask = tiny_batch()
    with torch.no_grad():
        default = model(offsets, offsets_mask, text_ids, text_mask).decoder.params.mu
        any_writer = model(offsets, offsets_mask, text_ids, text_mask, torch.zeros(3, dtype=torch.long)).decoder.params.mu
        writer_2 = model(offsets, offsets_mask, text_ids, text_mask, torch.full((3,), 2)).decoder.params.mu
    torch.testing.assert_close(default, any_writer)
    assert not torch.allclose(any_writer, writer_2)
    assert model.style_embedding is not None and model.style_embedding.num_embeddings == 4


def test_a_model_grown_with_styles_starts_from_the_same_function() -> None:
    from scribe.training.checkpoint import initialize_from

    torch.manual_seed(5)
    plain = HandwritingModel(tiny_config()).eval()
    grown = HandwritingModel(tiny_config(styles=3, style_dim=4)).eval()
    new = initialize_from(grown, plain.state_dict())
    assert new == ["style_embedding.weight"]
    offsets, offsets_mask, text_ids, text_mask = tiny_batch()
    with torch.no_grad():
        before = plain(offsets, offsets_mask, text_ids, text_mask).decoder.params
        after = grown(offsets, offsets_mask, text_ids, text_mask, torch.tensor([1, 2, 3])).decoder.params
    torch.testing.assert_close(before.mu, after.mu)
    torch.testing.assert_close(before.pen_logits, after.pen_logits)
    with pytest.raises(ValueError, match="shape"):
        initialize_from(HandwritingModel(tiny_config(hidden=9)), plain.state_dict())


def test_a_vae_started_from_a_writer_writes_as_the_writer_does_with_z_as_its_style() -> None:
    """z takes the style vector's place, so the VAE begins where the writer's training ended."""
    torch.manual_seed(6)
    alphabet = Alphabet("abcdefghij")
    writer = HandwritingModel(tiny_config(styles=3, style_dim=4)).eval()
    saved = stored_model(writer, alphabet, np.zeros(3, np.float32), np.ones(3, np.float32), style_writers=[7, 8, 9])
    vae = HandwritingModel(tiny_config("vae", latent_dim=4)).eval()
    assert start_from(vae, saved, alphabet, []) == 0
    offsets, offsets_mask, text_ids, text_mask = tiny_batch()
    styles = torch.tensor([1, 2, 3])
    with torch.no_grad():
        expected = writer(offsets, offsets_mask, text_ids, text_mask, styles).decoder.params
        z = writer.style(styles)
        got = vae.decoder(offsets[:, :-1], vae.start(text_ids, text_mask, z)).params
    for name in ("pi_logits", "mu", "log_sigma", "rho"):
        torch.testing.assert_close(getattr(got, name), getattr(expected, name))
    pen_up = torch.softmax(got.pen_logits, dim=-1)[..., 1]
    torch.testing.assert_close(pen_up, torch.sigmoid(expected.pen_logits[..., 0]), atol=0.01, rtol=0)
    with pytest.raises(ValueError, match="output layer"):
        start_from(HandwritingModel(tiny_config("vae", latent_dim=4, mixtures=4)), saved, alphabet, [])
