"""Who writes: a built-in style, a sampled VAE style, a mix of two, or a sample of the user's hand.

Every way of choosing a hand ends in a :class:`~scribe.writing.sampling.Conditioning`
for the decoder. A Graves writer's built-in styles are rows of its learned style
table (the curated ``builtin_styles``), and a style seed draws a new hand from a
Gaussian fitted to that table; a VAE's hands are latent vectors z, drawn from its
prior N(0, I) with a style seed or encoded from a sample; priming ink conditions a
Graves writer by being read first (Graves, section 5.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from scribe.errors import ScribeError
from scribe.ink.metrics import ADVANCE_PER_X_HEIGHT, median
from scribe.ink.strokes import normalize
from scribe.writing.network import InferenceModel
from scribe.writing.sampling import Conditioning

MAX_STYLE_SEED = 2**32 - 1
#: A writer's drawn hands spread this much less than its learned styles do. On 40
#: IAM-OnDB and 20 real-world texts read back (graves-iam-unipen, style seeds 1-10),
#: hands drawn at the styles' own spread read at a median 5.6% and 22% CER, the worst
#: 13.6%; at 0.7: 4.9% and 20%, the worst 8.8% (the best built-in style: 3.2%, 16.6%).
DRAWN_STYLE_SPREAD = 0.7
MAX_STYLE_TEMPERATURE = 3.0  # z from N(0, I) scaled past 3 sigma is far outside anything trained on


@dataclass(frozen=True)
class StyleMix:
    """A hand between two: built-in styles of a writer, or style seeds of a VAE; ``t`` 0 is ``first``, 1 ``second``."""

    first: int
    second: int
    t: float

    def validate(self) -> None:
        """Refuse a mix that names no hands or lies outside them, in the API's terms."""
        for name in ("first", "second"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= int(value) <= MAX_STYLE_SEED:
                raise ScribeError(f"a style mix's `{name}` must be a style number or seed from 0, not {value!r}")
        if isinstance(self.t, bool) or not isinstance(self.t, Real) or not 0 <= self.t <= 1:
            raise ScribeError(f"a style mix's `t` must be a number from 0 (the first style) to 1 (the second), not {self.t!r}")


def conditioning_for(
    model: InferenceModel,
    style: int | None = None,
    style_seed: int | None = None,
    prime: tuple[np.ndarray, str] | None = None,
    mix: StyleMix | None = None,
    temperature: float = 1.0,
) -> Conditioning:
    """The decoder's conditioning for at most one way of choosing a hand (none: the model's default hand).

    ``temperature`` sets how far a sampled hand is from the average one: a VAE's z is
    multiplied by it, and a writer's hand drawn with a style seed lies that much
    farther from the mean of its learned styles. 0 is the average hand, 1 a typical
    one, more than 1 a more unusual one.
    """
    if sum(choice is not None for choice in (style, style_seed, prime, mix)) > 1:
        raise ScribeError("choose the hand one way: a style, a style seed, a style mix or a sample of handwriting")
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not 0 <= temperature <= MAX_STYLE_TEMPERATURE:
        raise ScribeError(f"the style temperature must be a number from 0 to {MAX_STYLE_TEMPERATURE:g}, not {temperature!r}")
    if temperature != 1 and not model.is_vae and style_seed is None:
        raise ScribeError("a style temperature sets how unusual a sampled hand is; give a style seed too")
    chosen = _conditioning(model, style, style_seed, prime, mix, temperature)
    if chosen.vector is not None and model.is_vae:
        return Conditioning(vector=(temperature * chosen.vector).astype(np.float32))
    return chosen


def _conditioning(
    model: InferenceModel, style: int | None, style_seed: int | None, prime: tuple[np.ndarray, str] | None,
    mix: StyleMix | None, temperature: float,
) -> Conditioning:
    """The hand chosen, a VAE's z not yet scaled by ``temperature`` (a writer's drawn hand is)."""
    if mix is not None:
        if not isinstance(mix, StyleMix):
            raise ScribeError(f"`style_mix` must be a StyleMix(first, second, t), not {mix!r:.60}")
        mix.validate()
        ends = (_vae_z(model, mix.first), _vae_z(model, mix.second)) if model.is_vae else \
            (_style_vector(model, mix.first), _style_vector(model, mix.second))
        between = _slerp(*ends, mix.t) if model.is_vae else (1 - mix.t) * ends[0] + mix.t * ends[1]
        return Conditioning(vector=between.astype(np.float32))
    if prime is not None:
        if model.is_vae:
            return Conditioning(vector=model.encode_style(normalize(prime[0], model.mean, model.std))[0])
        return Conditioning(prime_offsets=prime[0], prime_text=prime[1])
    if model.is_vae:
        return Conditioning(vector=_vae_z(model, style_seed if style_seed is not None else 0))
    if style_seed is not None:
        return Conditioning(vector=_drawn_style(model, style_seed, temperature))
    return Conditioning(style_id=builtin_style_id(model, style))


def builtin_style_id(model: InferenceModel, style: int | None) -> int | None:
    """The row of the style table that built-in style ``style`` (None: the first) names; None for a model without styles."""
    styles = model.builtin_styles
    if not styles:
        if style not in (None, 0):
            raise ScribeError("this model has no built-in styles; leave the style out or give a sample of handwriting")
        return None
    index = 0 if style is None else style
    if not 0 <= index < len(styles):
        raise ScribeError(f"style {style} does not exist; this model has styles 0 to {len(styles) - 1}")
    return styles[index]


def style_advance(model: InferenceModel, style: int | None = None, mix: StyleMix | None = None) -> float:
    """The hand's width per character in x-heights, for wrapping: measured per built-in style; else the styles' median."""
    advances = model.style_advances
    if not advances:
        return ADVANCE_PER_X_HEIGHT
    if mix is not None and not model.is_vae:
        return (1 - mix.t) * advances[mix.first] + mix.t * advances[mix.second]
    if style is None:
        return median(advances)
    return advances[style]


def _style_vector(model: InferenceModel, style: int) -> np.ndarray:
    """The learned vector of built-in style ``style``."""
    if not model.builtin_styles:
        raise ScribeError("this model has no built-in styles to mix; use a model with styles, or a VAE")
    vectors = model.style_vectors(np.array([builtin_style_id(model, style)]))
    assert vectors is not None  # a model with built-in styles has their table
    return vectors[0]


def _drawn_style(model: InferenceModel, style_seed: int, temperature: float) -> np.ndarray:
    """A new hand of a writer with learned styles: a style vector drawn from the Gaussian fitted to them."""
    if model.style_prior is None:
        raise ScribeError("this model has no learned writer styles to draw a hand from; use a model with styles, or a VAE")
    mean, factor = model.style_prior
    draw = np.random.default_rng(style_seed).standard_normal(len(mean))
    return (mean + temperature * DRAWN_STYLE_SPREAD * factor @ draw).astype(np.float32)


def _vae_z(model: InferenceModel, style_seed: int) -> np.ndarray:
    """The VAE hand of ``style_seed``: z drawn from the prior N(0, I)."""
    return np.random.default_rng(style_seed).standard_normal(model.config.latent_dim).astype(np.float32)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: between two draws of N(0, I), the points in between stay as likely as the ends.

    A straight line between them passes nearer the origin (at t = 0.5 its length is
    about 0.71 of theirs), where the prior puts little of its mass (White, "Sampling
    Generative Networks", 2016; used by SketchRNN for the same purpose).
    """
    cosine = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    angle = math.acos(min(max(cosine, -1.0), 1.0))
    if angle < 1e-6:
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * angle) * a + math.sin(t * angle) * b) / math.sin(angle)
