"""tools.files: every output appears whole or not at all, and no temporary name looks like a result."""

from __future__ import annotations

import pytest

from flight.errors import InputError
from tools.files import atomic_output, atomic_path, check_writable, check_writable_dir, staged_dir, write_atomic


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "cell.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".tmp"
        assert list(tmp_path.glob("*.json")) == [target]  # a reader globbing results never sees the temporary
        tmp.write_text("half")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["cell.json"]
    with atomic_path(target, keep_suffix=True) as tmp:
        assert tmp.suffix == ".json"  # matplotlib and friends choose the format by name
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["cell.json"]


def test_write_atomic_text_and_bytes(tmp_path):
    write_atomic(tmp_path / "a.txt", "é\n")
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode() and (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    with pytest.raises(OSError):
        write_atomic(tmp_path / "missing" / "c.txt", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_atomic_output_refuses_unusable_names_and_cleans_up(tmp_path):
    with pytest.raises(InputError, match="is a directory"), atomic_output(tmp_path):
        pass
    with pytest.raises(InputError, match="does not exist"), atomic_output(tmp_path / "no" / "x.bin"):
        pass
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "x.bin") as fh:
        fh.write(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_output(tmp_path / "x.json", "w") as fh:
        fh.write("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"] and (tmp_path / "x.json").read_text() == "{}"


def test_staged_dir_new_and_existing(tmp_path):
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "deep" / "run") as tmp:
        (tmp / "a.csv").write_text("1")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its new parents
    with staged_dir(tmp_path / "run") as tmp:
        (tmp / "a.csv").write_text("1")
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with staged_dir(tmp_path / "run") as tmp:
        (tmp / "a.csv").write_text("2")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["a.csv", "notes.txt"]
    assert (tmp_path / "run" / "a.csv").read_text() == "2"


def test_checks_refuse_files_as_folders(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="--out .*: exists and is not a folder"):
        check_writable(tmp_path / "f")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_writable(tmp_path / "f" / "sub")
    check_writable(tmp_path / "new" / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # the probe left nothing
    with pytest.raises(InputError, match="not a directory"):
        check_writable_dir(tmp_path / "f")
    assert check_writable_dir(tmp_path / "made").is_dir()
