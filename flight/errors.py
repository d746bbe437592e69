"""The project's errors: one base class, three kinds.

- :class:`InputError`: the user gave us something we cannot use (a missing file, an impossible option).
  Command-line entry points print its message on one line and exit with code 2, never a traceback.
- :class:`FormatError`: bytes that do not follow docs/formats.md (corrupt or hostile data on the wire, in a
  stream file or in a model bundle's tables). Decode paths catch this class and only this class: a plain bug
  (``ValueError``, ``IndexError``, ...) is never mistaken for a corrupt tile.
- :class:`ModelError`: a model bundle that is missing, malformed, or not the one a frame was coded with.

All three derive from :class:`AstroflightError`, so a caller that wants "any of ours" catches that.
"""


class AstroflightError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(AstroflightError):
    """Bad input from a user: a missing, unreadable or unsupported file, an impossible option."""


class FormatError(AstroflightError):
    """Bytes on the wire (or in a stored format) that do not follow docs/formats.md: corrupt or hostile data."""


class ModelError(AstroflightError):
    """A model bundle that cannot be used: missing, malformed, or not the bundle a frame was coded with."""
