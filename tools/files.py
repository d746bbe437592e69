"""Outputs that appear whole or not at all: one way to write a file or a folder atomically.

Why: a run that fails (bad input, a full disk, Ctrl-C, a killed worker) must never leave a partial file or a
folder that looks like a result under the name the user asked for. Everything is written under a temporary
name in the destination's own folder (same file system, so the final ``os.replace`` is atomic) and renamed
only when the block that writes it finishes; on any exception the temporary file or folder is removed. Files
and folders get the mode ``open()`` and ``mkdir()`` would give them under the user's umask (not mkstemp's 0600).

- :func:`atomic_path`: the primitive. A temporary file beside the destination, replacing it on success. Its
  name is hidden and ends in ``.tmp`` (a reader globbing ``*.json`` never sees it), unless ``keep_suffix``
  asks for the destination's suffix (writers such as matplotlib choose the format from it).
- :func:`atomic_output`: an open file handle for a user-named output (checks the name first: InputError).
- :func:`write_atomic`: a whole ``str`` (UTF-8) or ``bytes`` value in one call.
- :func:`staged_dir`: a folder staged beside (or, when it exists, inside) its final place, then renamed.
- :func:`check_writable` / :func:`check_writable_dir`: refuse an unusable output location before any work,
  without creating it / creating it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from flight.errors import InputError


def _temp_file_beside(final: Path, keep_suffix: bool = False) -> Path:
    """A new empty hidden file in ``final``'s folder (ending in ``.tmp``, or ``.tmp`` + ``final``'s suffix);
    OSError if it cannot be made."""
    suffix = f".tmp{final.suffix}" if keep_suffix else ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{_short(final.name)}.", suffix=suffix, dir=final.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the mode open() would give
    finally:
        os.close(fd)
    return Path(tmp)


def current_umask() -> int:
    """The process's file-mode creation mask (read by setting it and putting it back at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _short(name: str, limit: int = 64) -> str:
    """The first ``limit`` UTF-8 bytes of ``name`` (at a character boundary): temporary names built from a final
    name of up to NAME_MAX (255) bytes must still fit the file system's limit."""
    return name.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


@contextlib.contextmanager
def _replacing(tmp: Path, final: Path) -> Iterator[None]:
    """Rename ``tmp`` to ``final`` if the block succeeds; remove ``tmp`` on any exception and re-raise it."""
    try:
        yield
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a new empty temporary file beside ``path``; it replaces ``path`` only if the block succeeds.

    ``keep_suffix``: the temporary name ends in ``path``'s suffix too (for writers that pick a format by name).
    The folder of ``path`` must exist (``OSError`` otherwise). On any exception, ``KeyboardInterrupt``
    included, the temporary file is removed and the exception propagates.
    """
    final = Path(path)
    tmp = _temp_file_beside(final, keep_suffix)
    with _replacing(tmp, final):
        yield tmp


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` (``mode``: "wb" or "w"); rename it to ``path`` if the block finishes.

    Raises InputError (one line) when ``path`` is a folder, or its folder does not exist or cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file name")
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    try:
        tmp = _temp_file_beside(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    with _replacing(tmp, path), open(tmp, mode) as fh:
        yield fh


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` (``str`` as UTF-8, or ``bytes``) to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


@contextlib.contextmanager
def staged_dir(out: str | Path, flag: str = "--out") -> Iterator[Path]:
    """Yield a temporary folder; on success its files move into ``out``, on error it vanishes.

    A new ``out`` is built beside its final place and appears by one rename (whole or not at all); parent folders
    made for it are removed again if the block fails. Into an existing folder, the files are staged in a hidden
    folder inside it and each is renamed in place (replacing a previous run's file of the same name).
    InputError (naming ``flag``) when the staging folder cannot be created.
    """
    final = Path(out).absolute()
    exists = final.is_dir()
    made = [] if exists else [p for p in [final.parent, *final.parent.parents] if not p.exists()]
    try:
        if exists:
            tmp = Path(tempfile.mkdtemp(prefix=".astroflight-tmp-", dir=final))
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{_short(final.name)}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; the folder gets the mode mkdir() would give
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


def check_writable_dir(path: str | Path) -> Path:
    """Create the folder ``path`` if needed and make sure it can be written; InputError otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{path}: output folder is not writable")
    return path
