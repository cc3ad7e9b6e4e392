"""The one exception type the user sees.

Every failure caused by the user's input (a file, a flag, a missing tool) is raised as
`QnnError` with a one-line message that names the cause and says what to do. The CLI and
the workbench print `str(err)` and nothing else; anything else escaping is a bug.
"""


class QnnError(Exception):
    """A user-facing error: `str(err)` is one line, cause first, then the remedy."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))
