"""Mutation fuzzing of the ground decoder with real packet streams: the engine behind the campaign and CI smoke.

One input = a base stream (small crops of real frames, coded by a flight codec, cut into packets) after a few
random mutations (``tests/stream_mutations.py``), decoded both packet by packet and as a concatenated stream file.
An input fails when decoding raises, runs past the time limit, calls a frame ``verified`` whose pixels,
scaling or cards differ from what flight sent under that name, or reports a frame ``incomplete`` without naming
what is missing.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for tests.* when run as a script

from flight.codecs.registry import get_codec  # noqa: E402
from flight.encoder import encode_frame  # noqa: E402
from flight.frame import Frame  # noqa: E402
from flight.packets import Packetizer, iter_stream  # noqa: E402
from ground.budget import RunBudget  # noqa: E402
from ground.reassembly import INCOMPLETE, VERIFIED, Reassembler  # noqa: E402
from tests.stream_mutations import mutate  # noqa: E402
from tools.fits_input import read_fits_frames  # noqa: E402

CORPUS = HERE / "corpus"
CROPS = HERE.parent / "data"


@dataclass
class Base:
    """A clean stream and the frames it carries (by name) for the false-verified oracle."""

    label: str
    packets: list[bytes]
    frames: dict[str, Frame]


def base_frames() -> list[Frame]:
    """Small crops (<= 24x40) of the real frames shipped in tests/data, several BITPIX, plus one 8-bit frame."""
    frames = []
    for path in sorted(CROPS.glob("*.fits")):
        for f in read_fits_frames(path)[:1]:  # axes=None: the crop's own (the file's would not hold it)
            frames.append(replace(f, pixels=np.ascontiguousarray(f.pixels[:24, :40]), axes=None))
    rng = np.random.default_rng(7)
    frames.append(Frame("synthetic_u8", rng.integers(0, 40, (9, 13)).astype(np.uint8), 8, cards=""))
    return frames


def build_bases(codecs: tuple[str, ...] = ("raw", "rice")) -> list[Base]:
    """Clean streams of every base frame set for each codec, tile shape and packet size."""
    frames = base_frames()
    bases = []
    for codec_name in codecs:
        codec = get_codec(codec_name)
        for tile in (None, (8, 8), (5, 40)):
            for size in (96, 600):
                packetizer = Packetizer(size)
                packets: list[bytes] = []
                for fid, f in enumerate(frames):
                    packets += packetizer.packetize(encode_frame(f, codec, tile, frame_id=fid))
                label = f"{codec_name}-{tile[0] if tile else 1}x{tile[1] if tile else 'row'}-{size}"
                bases.append(Base(label, packets, {f.name: f for f in frames}))
    return bases


@dataclass
class Outcome:
    seconds: float  # CPU seconds spent decoding this input
    crash: str = ""
    false_verified: list[str] = field(default_factory=list)
    unnamed: int = 0  # incomplete frames that do not say what is missing
    statuses: dict[str, int] = field(default_factory=dict)


def check(packets: list[bytes], originals: dict[str, Frame]) -> Outcome:
    """Decode ``packets`` two ways (one by one, and as a stream file) and judge the results."""
    t0 = time.process_time()  # CPU time: a busy shared machine must not turn a slow start into a "hang"
    out = Outcome(0.0)
    try:
        size = sum(len(p) for p in packets)  # each ground keeps a run budget as ground.decode does
        grounds = [Reassembler(budget=RunBudget(size)), Reassembler(budget=RunBudget(size))]
        for p in packets:
            grounds[0].add_packet(p)
        for p in iter_stream(b"".join(packets)):
            grounds[1].add_packet(p)
        for ground in grounds:
            for fid in ground.frame_ids():
                res = ground.result(fid)
                out.statuses[res.status] = out.statuses.get(res.status, 0) + 1
                if res.status == INCOMPLETE and not (res.missing and (res.missing_parts or res.missing_tiles)):
                    out.unnamed += 1
                if res.status == VERIFIED:
                    src = originals.get(res.header.name)
                    same = (
                        src is not None and res.pixels.dtype == src.pixels.dtype
                        and np.array_equal(res.pixels, src.pixels)
                        and (res.header.bzero, res.header.bscale, res.header.blank, res.header.cards)
                        == (src.bzero, src.bscale, src.blank, src.cards)
                    )
                    if not same:
                        out.false_verified.append(res.header.name)
    except Exception as exc:  # the campaign counts crashes; it must not stop at the first
        out.crash = f"{type(exc).__name__}: {exc}"
    out.seconds = time.process_time() - t0
    return out


def mutated_input(bases: list[Base], seed: int, index: int) -> tuple[Base, list[bytes]]:
    """Input number ``index`` of the campaign with ``seed``: reproducible from the two numbers alone."""
    rng = np.random.default_rng([seed, index])
    base = bases[int(rng.integers(len(bases)))]
    return base, mutate(base.packets, rng, int(rng.integers(1, 9)))


def save_failure(packets: list[bytes], kind: str, label: str) -> Path:
    """Keep a failing input in the regression corpus (a stream file; the base label is in the name)."""
    CORPUS.mkdir(exist_ok=True)
    data = b"".join(packets)
    path = CORPUS / f"{kind}-{label}-{hashlib.sha256(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    return path
