"""The one exception type for mistakes a user can fix.

Library code raises :class:`ScribeError` with a message that says what is wrong
and how to fix it, in the library's own terms: a parameter the user can change is
named in backticks as the Python API names it (``pass a mirror in `urls```). The
command line shows such names as its flags (``--url``, see
:data:`scribe.cli.app.FLAGS`) and prints the message as a single ``error: ...``
line with a non-zero exit status. Anything else escaping the library is a bug and
keeps its traceback.
"""


class ScribeError(Exception):
    """A user-facing error: bad input, missing data, a failed download."""
