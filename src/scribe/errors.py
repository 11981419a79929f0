"""The one exception type for mistakes a user can fix.

Library code raises :class:`ScribeError` with a message that says what is wrong
and how to fix it; the CLI prints it as a single ``error: ...`` line on stderr and
exits non-zero. Anything else escaping the library is a bug and keeps its traceback.
"""


class ScribeError(Exception):
    """A user-facing error: bad input, missing data, a failed download."""
