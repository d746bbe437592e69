"""Shared command-line plumbing: one-line errors with exit code 2, never a traceback for a user mistake."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from flight.errors import InputError

EXIT_OK, EXIT_NOT_ALL_VERIFIED, EXIT_USAGE = 0, 1, 2


class OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line ('prog: error: ...') and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def parse_tile(text: str) -> tuple[int, int]:
    """'ROWSxCOLS' -> (rows, cols), both >= 1."""
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must look like ROWSxCOLS (e.g. 32x32), got {text!r}") from None
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(f"tile sides must be >= 1, got {text!r}")
    return rows, cols


def run_cli(prog: str, main: Callable[[], int]) -> None:
    """Run ``main`` and exit with its code; InputError and unreadable/unwritable files become one line, exit 2."""
    try:
        code = main()
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        code = 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        code = EXIT_USAGE
    sys.exit(code)
