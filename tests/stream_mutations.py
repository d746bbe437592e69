"""Mutations of packet streams shared by the property tests and the fuzz campaign.

Each mutation models something a real link or a hostile sender does: drop, duplicate, reorder, truncate, flip
bits, or rewrite fields and then fix the packet CRC (so the damage reaches the container parsers).
"""

from __future__ import annotations

import struct

import numpy as np

from flight.checksums import crc16_ccsds

MUTATIONS = ("drop", "duplicate", "swap", "truncate", "bitflip", "bitflip_fixcrc", "field_fixcrc", "splice",
             "byte_fixcrc", "garbage")


def fix_crc(packet: bytes) -> bytes:
    """Recompute the CRC so a damaged packet passes the link layer (what a hostile sender would do)."""
    if len(packet) < 8:
        return packet
    body = packet[:-2]
    return body + struct.pack(">H", crc16_ccsds(body))


_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 65536, 65537, 1 << 20]


def mutate(packets: list[bytes], rng: np.random.Generator, n_mutations: int = 1) -> list[bytes]:
    """A mutated copy of ``packets`` (each packet is bytes) after ``n_mutations`` random mutations."""
    out = list(packets)
    for _ in range(n_mutations):
        if not out:
            break
        kind = MUTATIONS[rng.integers(len(MUTATIONS))]
        i = int(rng.integers(len(out)))
        p = bytearray(out[i])
        if not p and kind not in ("drop", "duplicate", "swap", "garbage"):
            kind = "drop"
        if kind == "drop":
            del out[i]
        elif kind == "duplicate":
            out.insert(int(rng.integers(len(out) + 1)), out[i])
        elif kind == "swap":
            j = int(rng.integers(len(out)))
            out[i], out[j] = out[j], out[i]
        elif kind == "truncate":
            out[i] = bytes(p[: int(rng.integers(len(p)))])
        elif kind in ("bitflip", "bitflip_fixcrc"):
            for _ in range(int(rng.integers(1, 4))):
                bit = int(rng.integers(len(p) * 8))
                p[bit // 8] ^= 1 << (bit % 8)
            out[i] = fix_crc(bytes(p)) if kind == "bitflip_fixcrc" else bytes(p)
        elif kind == "byte_fixcrc":
            pos = int(rng.integers(len(p)))
            p[pos] = int(rng.integers(256))
            out[i] = fix_crc(bytes(p))
        elif kind == "field_fixcrc":
            # Overwrite a 1/2/4-octet field at a random offset with an interesting value (lengths, counts, shapes).
            width = int(rng.choice([1, 2, 4]))
            pos = int(rng.integers(max(1, len(p) - width)))
            value = int(rng.choice(_INTERESTING)) & ((1 << (8 * width)) - 1)
            p[pos : pos + width] = value.to_bytes(width, "big")
            out[i] = fix_crc(bytes(p))
        elif kind == "splice":
            j = int(rng.integers(len(out)))
            q = out[j]
            cut = int(rng.integers(min(len(p), len(q)) + 1))
            out[i] = fix_crc(bytes(p[:cut]) + q[cut:])
        elif kind == "garbage":
            out.insert(i, rng.bytes(int(rng.integers(1, 64))))
    return out
