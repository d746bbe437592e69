"""Output folders and files that appear whole or not at all.

Why: a run that fails (bad input, a full disk, Ctrl-C) must not leave a folder that looks like a result. So the
output location is checked before any work (an unwritable ``--out`` is a one-line error, not a lost hour of
simulation), files are written under a temporary name and renamed, and a run's folder is built next to its
final place and moved there only once every file is in it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flight.errors import InputError


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder above ``path`` (or ``path`` itself) that exists."""
    here = path.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def check_writable(out: str | Path, flag: str = "--out") -> None:
    """Raise InputError (one line, naming ``flag``) unless a folder could be created or written at ``out``.

    Nothing is left behind: the check creates and removes a probe folder in the nearest existing ancestor.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {out}: exists and is not a folder")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise InputError(f"{flag} {out}: {base} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".astroflight-probe-", dir=base)
        os.rmdir(probe)
    except OSError as exc:
        raise InputError(f"{flag} {out}: cannot write in {base} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def staged_dir(out: str | Path, flag: str = "--out") -> Iterator[Path]:
    """Yield a temporary folder; on success its files move into ``out``, on error it vanishes.

    A new ``out`` is built beside its final place and appears by one rename (whole or not at all); parent folders
    made for it are removed again if the block fails. Into an existing folder, the files are staged in a hidden
    folder inside it and each is renamed in place (replacing a previous run's file of the same name).
    """
    final = Path(out).absolute()
    exists = final.is_dir()
    made = [] if exists else [p for p in [final.parent, *final.parent.parents] if not p.exists()]
    try:
        if exists:
            tmp = Path(tempfile.mkdtemp(prefix=".astroflight-tmp-", dir=final))
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    except OSError as exc:
        _remove_empty(made)
        raise InputError(f"{flag} {out}: cannot create ({exc.strerror or exc})") from None
    try:
        yield tmp
        if exists:
            for item in sorted(tmp.iterdir()):
                os.replace(item, final / item.name)
            tmp.rmdir()
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders this module created (deepest first) if they are still empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file name beside ``path``; it replaces ``path`` only if the block succeeds."""
    final = Path(path)
    # Keep the suffix: writers such as matplotlib choose the format from it.
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
