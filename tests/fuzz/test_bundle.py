"""Hostile IDF model bundles: every failure is one IdfBundleError line, nothing hangs or escapes the folder.

Issue 12, section 4 ("Model bundle"). Before: manifest.json could name files outside the folder (``../..``),
which the bundle hash did not cover; a symlink to /dev/zero or a FIFO hung or exhausted memory; deep JSON
nesting gave a RecursionError traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import flight.idf.bundle as fb
from flight.idf.bundle import DEFAULT_BUNDLE, HASH_FILE, IdfBundleError, bundle_digest, load_bundle

SHIPPED_DIGEST = "cc7e5ae691440f84e96f347d21f10715f950c9f22d2cd85eb8e6728149ef9f7a"


def _copy(tmp_path: Path) -> Path:
    b = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, b)
    return b


def _rehash(b: Path) -> None:
    (b / HASH_FILE).write_text(bundle_digest(b).hex() + "\n")


def _manifest(b: Path, edit) -> None:
    man = json.loads((b / "manifest.json").read_text())
    edit(man)
    (b / "manifest.json").write_text(json.dumps(man))


def _refused(b: Path, match: str) -> str:
    t0 = time.process_time()
    with pytest.raises(IdfBundleError, match=match) as info:
        load_bundle(b)
    assert time.process_time() - t0 < 5
    message = str(info.value)
    assert "\n" not in message
    return message


def test_shipped_bundle_hash_is_unchanged():
    assert bundle_digest(DEFAULT_BUNDLE).hex() == SHIPPED_DIGEST
    assert (DEFAULT_BUNDLE / HASH_FILE).read_text().strip() == SHIPPED_DIGEST
    assert load_bundle().digest.hex() == SHIPPED_DIGEST


@pytest.mark.parametrize("name", ["../outside.tflite", "../../bundle/L1_T1.tflite", "/etc/passwd", "sub/L1_T1.tflite",
                                  ".hidden", "", 7])
def test_manifest_names_outside_the_folder_are_refused(tmp_path, name):
    b = _copy(tmp_path)
    shutil.copy(b / "L1_T1.tflite", tmp_path / "outside.tflite")
    _manifest(b, lambda m: m["networks"]["L1_T1"].__setitem__("file", name))
    _rehash(b)
    _refused(b, "plain name|does not use|not a regular file")


def test_files_the_manifest_does_not_use_are_refused(tmp_path):
    b = _copy(tmp_path)
    (b / "notes.txt").write_text("extra")
    _rehash(b)
    assert "notes.txt" in _refused(b, "does not use")


@pytest.mark.parametrize("kind", ["symlink to /dev/zero", "FIFO", "symlink to a real network", "folder"])
def test_special_files_are_refused_without_reading_them(tmp_path, kind):
    b = _copy(tmp_path)
    target = b / "L1_T1.tflite"
    if kind == "symlink to /dev/zero":
        target.unlink()
        target.symlink_to("/dev/zero")
    elif kind == "FIFO":
        target.unlink()
        os.mkfifo(target)
    elif kind == "symlink to a real network":
        shutil.move(target, tmp_path / "real.tflite")
        target.symlink_to(tmp_path / "real.tflite")
    else:
        (b / "extra").mkdir()
    _refused(b, "not a regular file")  # bundle_digest refuses it before any read


def test_deeply_nested_manifest_is_one_line(tmp_path):
    b = _copy(tmp_path)
    (b / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)
    _rehash(b)
    _refused(b, "nested too deeply|not a version-1")


def test_reads_are_size_capped(tmp_path, monkeypatch):
    b = _copy(tmp_path)
    monkeypatch.setattr(fb, "MAX_FILE_BYTES", 50_000)  # tables.npz is 105,016 bytes
    assert "tables.npz" in _refused(b, "105016 bytes, more than the 50000 allowed")
    monkeypatch.setattr(fb, "MAX_MANIFEST_BYTES", 1000)
    monkeypatch.setattr(fb, "MAX_FILE_BYTES", 1 << 20)
    _refused(b, "manifest.json is 11738 bytes")
