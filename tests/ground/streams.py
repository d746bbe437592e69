"""Packet streams of small frames with chosen names and header cards, for the ground tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from flight.codecs.raw import RawCodec
from flight.encoder import encode_frame
from flight.frame import Frame
from flight.packets import Packetizer


def card(text: str) -> str:
    """One 80-character card."""
    return text.ljust(80)[:80]


def frame(name: str, cards: str = "", seed: int = 0, shape: tuple[int, int] = (6, 9)) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(name, rng.integers(-500, 500, shape).astype(np.int16), 16, cards=cards)


def stream(frames: list[Frame], patch: dict[int, tuple[bytes, bytes]] | None = None) -> bytes:
    """One stream of ``frames`` (frame ids 0, 1, ...); ``patch`` {index: (old, new)} rewrites bytes of that
    frame's header item after its checksum was computed (the checksum still matches when ``old`` and ``new``
    decode to the same identity, e.g. a non-ASCII byte the ground reads as '?')."""
    packetizer = Packetizer(512)
    out = []
    for i, f in enumerate(frames):
        enc = encode_frame(f, RawCodec(), None, frame_id=i)
        if patch and i in patch:
            old, new = patch[i]
            assert old in enc.header
            enc = replace(enc, header=enc.header.replace(old, new))
        out += packetizer.packetize(enc)
    return b"".join(out)
