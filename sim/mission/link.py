"""The radio channel: packet erasures and bit errors, and whole passes lost, from seeded generators.

A packet is lost when it is erased (``link.packet_loss``: a dropped transfer frame, a receiver glitch) or hit by
bit errors: with the bit error rate after decoding, PER = 1 - (1 - BER)^n over the n bits it occupies on the air
(its octets x 8 x (1 + framing overhead): an error in the transfer frame around it loses it too). In exact
fidelity a packet with bit errors is really damaged (one to three bits flipped) and handed to the ground, whose
CRC-16 has to reject it; in statistical fidelity it is simply counted lost (CRC-16 misses ~1 in 65536 damaged
packets; exact fidelity shows what the ground then does).

Each kind of draw has its own generator stream, so the losses of a run do not depend on the fidelity, and a
change to one probability does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import LinkConfig


class Link:
    """Loss draws for one run (seeded)."""

    def __init__(self, cfg: LinkConfig, framing_overhead: float, seed: int) -> None:
        self.cfg = cfg
        self.bits_per_octet = 8.0 * (1.0 + framing_overhead)
        loss, damage, passes = np.random.default_rng(seed).bit_generator.seed_seq.spawn(3)
        self._loss = np.random.default_rng(loss)
        self._damage = np.random.default_rng(damage)
        self._passes = np.random.default_rng(passes)

    def loss_probability(self, lengths: np.ndarray) -> np.ndarray:
        """Probability that each packet (``lengths`` in octets) does not arrive intact."""
        per = -np.expm1(lengths * self.bits_per_octet * np.log1p(-self.cfg.ber)) if self.cfg.ber > 0 else 0.0
        return 1.0 - (1.0 - self.cfg.packet_loss) * (1.0 - per)

    def draw(self, p_lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(erased, damaged) masks for packets lost with probabilities ``p_lost`` (from ``loss_probability``);
        damaged packets still reach the ground. One uniform draw per packet decides both."""
        u = self._loss.random(len(p_lost))
        erased = u < self.cfg.packet_loss
        damaged = (u < p_lost) & ~erased
        return erased, damaged

    def pass_missed(self) -> bool:
        """Whether the next contact is lost entirely (antenna, station outage, scheduling)."""
        return bool(self._passes.random() < self.cfg.missed_pass_probability)

    def damage(self, packet: bytes) -> bytes:
        """The packet with one to three bits flipped at random positions."""
        data = bytearray(packet)
        for _ in range(int(self._damage.integers(1, 4))):
            bit = int(self._damage.integers(0, len(data) * 8))
            data[bit // 8] ^= 0x80 >> (bit % 8)
        return bytes(data)
