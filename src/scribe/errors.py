"""The one exception type for mistakes a user can fix.

Library code raises :class:`ScribeError` with a message that says what is wrong
and how to fix it, in the library's own terms: a parameter the user can change is
named in backticks as the Python API names it (``pass a mirror in `urls```). The
command line shows such names as its flags (``--url``, see
:data:`scribe.cli.core.FLAGS`) and prints the message as a single ``error: ...``
line with a non-zero exit status. Anything else escaping the library is a bug and
keeps its traceback.
"""


class ScribeError(Exception):
    """A user-facing error: bad input, missing data, a failed download."""


#: Longest reason quoted from another library's exception in a message.
REASON_CHARACTERS = 150


def reason(exc: BaseException) -> str:
    """A short, whole-word cause from another library's exception, for a one-line message.

    Its first line, cut at a word boundary; numpy's advice to load a file "unsafely"
    with pickle is dropped (a damaged file is never a reason to unpickle it).
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split("; if you trust")[0].split(" if you trust")[0]
    if "allow_pickle" in text or "weights_only" in text or "Weights only load failed" in text:
        text = "it holds Python objects, not plain arrays"
    if len(text) <= REASON_CHARACTERS:
        return text
    return text[:REASON_CHARACTERS].rsplit(" ", 1)[0] + " ..."
