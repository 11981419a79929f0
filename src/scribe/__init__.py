"""scribe: turn text into realistic, human-like handwriting."""

__version__ = "0.1.0"
