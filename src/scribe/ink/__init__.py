"""The ink room (NumPy only): the stroke format and every conversion of it, line metrics, text and alphabet.

Everything else in scribe speaks this room's language: a line of handwriting is
float32 offsets ``[dx, dy, pen_up]`` (:mod:`scribe.ink.strokes`), a text is fitted
to a model's :class:`~scribe.ink.alphabet.Alphabet` (:mod:`scribe.ink.text`).
"""
