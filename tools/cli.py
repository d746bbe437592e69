"""The one command-line convention of every astroflight tool: one parser class and one ``run_cli`` wrapper.

- Usage mistakes (argparse) and :class:`flight.errors.AstroflightError` (InputError, FormatError, ModelError)
  become one line on stderr, ``PROG: error: MESSAGE``, and exit code 2; never a traceback.
- An unreadable or unwritable file (``OSError``) is one line too, exit 2.
- Ctrl-C is ``PROG: interrupted``, exit 130.
- A reader that goes away (``astroflight-sim ... | head -1``) ends the tool quietly with 141 (128 + SIGPIPE, what
  a shell reports for a process killed by a broken pipe), no message.
- Every tool answers ``--version`` with ``PROG VERSION`` (the installed distribution's version).

A tool module defines ``run(argv) -> int`` (does the work, raises on bad input) and
``main(argv=None) -> int`` = ``run_cli(PROG, lambda: run(argv))``, the console-script entry point.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from flight.errors import AstroflightError

EXIT_OK, EXIT_NOT_ALL_VERIFIED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
DISTRIBUTION = "astroflight"


@cache
def version() -> str:
    """The installed astroflight version; pyproject.toml's ``[project] version`` when not installed."""
    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def invoked_as(prog: str) -> str:
    """The name a user typed: the console script's (``astroflight-encode``) when run through one, else ``prog``
    (the ``python -m ...`` form each tool is named by)."""
    typed = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return typed if typed.startswith("astroflight-") else prog


class OneLineParser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line (``PROG: error: ...``, exit 2) and that has ``--version``;
    PROG is the command as the user typed it (:func:`invoked_as`)."""

    def __init__(self, *args, **kwargs) -> None:
        if "prog" in kwargs:
            kwargs["prog"] = invoked_as(kwargs["prog"])
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                          help="print the version and exit")

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def parse_tile(text: str) -> tuple[int, int]:
    """'ROWSxCOLS' -> (rows, cols), both >= 1; ``argparse.ArgumentTypeError`` otherwise."""
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must look like ROWSxCOLS (e.g. 32x32), got {text!r}") from None
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(f"tile sides must be >= 1, got {text!r}")
    return rows, cols


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Run ``body`` and return its exit code, or the convention's code after one line on stderr (module doc).

    ``SystemExit`` (argparse's ``--help``, ``--version`` and usage errors) passes through unchanged. Standard
    output is flushed here, so a reader that closed the pipe is noticed while the handler still applies.
    """
    prog = invoked_as(prog)
    try:
        code = body()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except AstroflightError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not report the broken pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor behind sys.stdout (captured in tests)
        pass
