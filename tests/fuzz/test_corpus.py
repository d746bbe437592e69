"""Replay the fuzz regression corpus, and a short fuzz smoke run with a fixed seed, on every CI run."""

from __future__ import annotations

import pytest

from .ground_fuzz import CORPUS, build_bases, check, mutated_input

BASES = build_bases()
ORIGINALS = {name: f for base in BASES for name, f in base.frames.items()}


def _packets_of(data: bytes) -> list[bytes]:
    from flight.packets import iter_stream

    return [p.data for p in iter_stream(data)] or [data]


@pytest.fixture(scope="module")
def compiled_decoders() -> None:
    """Decode every clean base stream once, so numba has compiled the decode kernels before any input is timed."""
    for base in BASES:
        out = check(base.packets, base.frames)
        assert not out.crash and not out.false_verified and not out.unnamed, base.label


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.bin")), ids=lambda p: p.name)
def test_corpus_input_decodes_without_crash_or_false_verified(path, compiled_decoders):
    """Each input once hung (up to 79 CPU s) or named nothing missing; the bound is CPU seconds after warm-up."""
    out = check(_packets_of(path.read_bytes()), ORIGINALS)
    assert not out.crash and not out.false_verified and not out.unnamed and out.seconds < 5


def test_fuzz_smoke_fixed_seed():
    for i in range(300):
        base, packets = mutated_input(BASES, 20261125, i)
        out = check(packets, base.frames)
        assert not out.crash, (i, out.crash)
        assert not out.false_verified, (i, out.false_verified)
        assert not out.unnamed, i
