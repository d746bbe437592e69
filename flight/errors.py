"""Errors that mean "the user gave us something we cannot use".

Command-line entry points catch :class:`InputError` and print its message on one line with exit code 2,
so a user mistake never ends in a traceback.
"""


class InputError(Exception):
    """Bad input from a user: a missing, unreadable or unsupported file, an impossible option."""


class FormatError(ValueError):
    """Bytes on the wire that do not follow docs/formats.md (corrupt or hostile data)."""
