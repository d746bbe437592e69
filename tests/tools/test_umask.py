"""Outputs honour the user's umask (issue 12, section 4). Before: every product and report was mode 0600
(``tempfile.mkstemp``'s mode survived the rename)."""

from __future__ import annotations

import contextlib
import io
import os
import stat

import pytest

from tools.files import atomic_output, atomic_path, staged_dir, write_atomic


@pytest.fixture
def umask():
    old = os.umask(0o022)
    try:
        yield lambda mask: os.umask(mask)
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750),
                                                       (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_files_and_folders_get_the_umask_mode(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    with atomic_output(tmp_path / "a.json", "w") as fh:
        fh.write("{}")
    write_atomic(tmp_path / "b.txt", "x")
    with atomic_path(tmp_path / "c.png", keep_suffix=True) as tmp:
        tmp.write_bytes(b"png")
    with staged_dir(tmp_path / "new" / "run") as folder:
        (folder / "f").write_text("x")
    assert [_mode(tmp_path / n) for n in ("a.json", "b.txt", "c.png")] == [file_mode] * 3
    assert _mode(tmp_path / "new" / "run") == dir_mode


def test_decode_products_and_report_are_readable_by_the_group(tmp_path, umask):
    from ground.decode import run
    from tests.ground.streams import frame, stream

    umask(0o022)
    (tmp_path / "s.bin").write_bytes(stream([frame("a")]))
    with contextlib.redirect_stdout(io.StringIO()):
        assert run([str(tmp_path / "s.bin"), "--out", str(tmp_path / "o")]) == 0
    assert {p.name: _mode(p) for p in (tmp_path / "o").iterdir()} == {"a.fits": 0o644, "report.json": 0o644}
