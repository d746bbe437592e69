"""Small packet streams that claim far more than they carry (issue 12, section 4, "Amplification").

Used by ``tests/ground/test_amplification.py``; the same bytes are kept in ``tests/fuzz/corpus/amplify-*.bin``.
"""

from __future__ import annotations

import numpy as np

from flight.codecs.rice import RiceCodec
from flight.container import FrameHeader
from flight.encoder import encode_frame
from flight.frame import Frame
from flight.packets import APID_FRAME_HEADER, APID_TILE_DATA, CHUNK, SECONDARY, SEQ_UNSEGMENTED, build_packet


def _header(frame_id: int, name: str, rows: int = 4096, cols: int = 4096, tile: tuple[int, int] = (4096, 4096),
            codec_id: int = 0, params: bytes = b"") -> FrameHeader:
    return FrameHeader(frame_id=frame_id, bitpix=32, rows=rows, cols=cols, tile_rows=tile[0], tile_cols=tile[1],
                       codec_id=codec_id, codec_params=params, model_hash=bytes(32), checksum=bytes(16), bzero=None,
                       bscale=None, blank=None, name=name, cards="")


def _packet(apid: int, frame_id: int, part: int, count: int, item: int, data: bytes) -> bytes:
    return build_packet(apid, SEQ_UNSEGMENTED, frame_id + part, SECONDARY.pack(frame_id, part, count),
                        CHUNK.pack(item, len(data), 0, len(data)) + data)


def huge_headers(n: int = 10) -> bytes:
    """``n`` one-packet frames (146 octets each) whose header claims a 4096 x 4096 int32 frame and nothing else."""
    return b"".join(_packet(APID_FRAME_HEADER, i, 0, 1, 0, _header(i, f"f{i:03d}").pack()) for i in range(n))


def huge_part_counts(n: int = 40) -> bytes:
    """``n`` 35-octet tile packets, each of its own frame, claiming 2^24 parts."""
    return b"".join(_packet(APID_TILE_DATA, i, 1, 1 << 24, 1, b"x") for i in range(n))


def huge_headers_with_a_tile(n: int = 10, side: int = 4096) -> bytes:
    """``n`` frames claiming ``side`` x ``side`` int32 in 256 x 256 tiles, each with one real RICE tile of zeros
    (about 1.5 KB a frame: a tile that decodes, so the frame would get a pixel buffer and a product)."""
    tile = encode_frame(Frame("t", np.zeros((256, 256), np.int32), 32), RiceCodec(), (256, 256)).tiles[0]
    out = []
    parts = 1 + (side // 256) ** 2
    for i in range(n):
        head = _header(i, f"g{i:03d}", side, side, (256, 256), codec_id=RiceCodec.codec_id, params=RiceCodec().params())
        out.append(_packet(APID_FRAME_HEADER, i, 0, parts, 0, head.pack()))
        out.append(_packet(APID_TILE_DATA, i, 1, parts, 1, tile))
    return b"".join(out)
