"""A decode run costs a bounded multiple of the stream it read (issue 12, section 4, "Amplification").

Bounds (``ground/budget.py``, ``docs/reliability.md``): pixel bytes allocated over the run <= 64 MiB + 256 x
stream bytes; report entries <= 65,536 + stream bytes; each frame's buffers are freed once its product is written;
a frame with no decoded tile gets no product. Memory is measured with tracemalloc (numpy buffers included).
"""

from __future__ import annotations

import contextlib
import io
import json
import tracemalloc
from pathlib import Path

import pytest

import ground.budget as gb
from ground.decode import run

from .hostile_streams import huge_headers, huge_headers_with_a_tile, huge_part_counts

MB = 1 << 20


def _decode(tmp_path: Path, data: bytes, name: str) -> tuple[int, int, dict, list[Path]]:
    """(exit code, tracemalloc peak in bytes, report, files written) of one in-process ground.decode run."""
    stream = tmp_path / f"{name}.bin"
    stream.write_bytes(data)
    out = tmp_path / name
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rc = run([str(stream), "--out", str(out)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return rc, peak, json.loads((out / "report.json").read_text()), sorted(out.iterdir())


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory):
    """Imports (astropy, codecs) allocate once; measure the runs after them."""
    _decode(tmp_path_factory.mktemp("warm"), huge_headers_with_a_tile(1, 512), "warm")


def test_headers_claiming_huge_frames_allocate_and_write_nothing(tmp_path):
    data = huge_headers()
    assert len(data) == 1600  # the issue's 1,460 bytes plus 14 per header for container v2's axes
    rc, peak, report, files = _decode(tmp_path, data, "h")
    assert rc == 1 and [f.name for f in files] == ["report.json"]  # before: 838.9 MB of products
    assert files[0].stat().st_size < 20_000
    assert [f["path"] for f in report["frames"]] == [None] * 10
    assert all(f["status"] == "corrupt" and f["missing_tiles_count"] == 0 for f in report["frames"])
    assert peak < 4 * MB  # before: 869 MB


def test_packets_claiming_two_to_the_24_parts_make_a_bounded_report(tmp_path):
    data = huge_part_counts()
    assert len(data) == 1400
    rc, peak, report, files = _decode(tmp_path, data, "p")
    frames = report["frames"]
    assert rc == 1 and len(frames) == 40
    assert all(f["missing_parts_count"] == (1 << 24) - 1 for f in frames)  # counts stay exact
    listed = sum(len(f["missing_parts"]) for f in frames)
    allowed = gb.FREE_ENTRIES + len(data) // gb.INPUT_BYTES_PER_ENTRY
    # the run's entries first, then ALWAYS_LISTED for every later frame
    assert len(frames[0]["missing_parts"]) == gb.FREE_ENTRIES
    assert listed == allowed + (len(frames) - 2) * gb.ALWAYS_LISTED
    assert all(len(f["missing_parts"]) == gb.ALWAYS_LISTED for f in frames[2:])
    assert all(len(f["missing_packets"]) == len(f["missing_parts"]) for f in frames)
    report_bytes = files[0].stat().st_size
    assert report_bytes < 110 * (gb.FREE_ENTRIES + len(data))  # before: 253.8 MB
    assert peak < 40 * MB  # before: 868 MB


def test_pixel_budget_caps_what_a_run_allocates_and_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(gb, "FREE_BYTES", 2 * MB)
    data = huge_headers_with_a_tile(10, 512)  # 10 frames of 512 x 512 int32, one decodable 256 x 256 tile each
    allowed = 2 * MB + gb.BYTES_PER_INPUT_BYTE * len(data)
    per_frame = 512 * 512 * 5  # pixels and mask
    rc, peak, report, files = _decode(tmp_path, data, "t")
    frames = report["frames"]
    written = [f for f in files if f.name != "report.json"]
    assert len(written) == allowed // per_frame == 4
    assert sum(f.stat().st_size for f in written) <= allowed + 4 * 2880 * 4  # pixels, mask and FITS headers
    refused = [f for f in frames if f["path"] is None]
    assert len(refused) == 6 and all("budget" in f["reason"] and f["status"] == "incomplete" for f in refused)
    assert peak < 3 * per_frame + 2 * MB  # one frame at a time


def test_each_frame_is_freed_once_written(tmp_path):
    """Ten 1.3 MB frames in one run: the peak is that of one frame, not of ten."""
    data = huge_headers_with_a_tile(10, 512)
    rc, peak, report, files = _decode(tmp_path, data, "f")
    assert len(files) == 11 and all(f["path"] for f in report["frames"])
    assert peak < 3 * 512 * 512 * 5 + 2 * MB


def test_huge_frames_with_a_real_tile_stay_within_the_budget(tmp_path):
    data = huge_headers_with_a_tile(10, 4096)  # 80 MB of pixels and mask claimed per frame, 1.5 KB sent
    rc, peak, report, files = _decode(tmp_path, data, "g")
    assert [f.name for f in files] == ["report.json"]
    assert all("budget" in f["reason"] for f in report["frames"])
    assert peak < 4 * MB
