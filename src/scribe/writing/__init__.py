"""The writing room (NumPy only): text in, handwritten pages out.

Stored models and the registry (:mod:`~scribe.writing.stored`,
:mod:`~scribe.writing.registry`), the network run in NumPy
(:mod:`~scribe.writing.network`), sampling (:mod:`~scribe.writing.sampling`), style
samples, page layout, output formats and the :class:`~scribe.writing.document.Document`
API. Importing it never loads PyTorch.
"""
