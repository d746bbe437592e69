"""The camera: one frame every ``camera.cadence_s``, when the capture rule allows, into the raw buffer.

Frame ``k`` shows source frame ``k mod n`` (:mod:`sim.frames`). ``camera.capture`` restricts imaging to eclipse
(stray light: many astronomy payloads observe only on the night side) or to sunlight; ``priority_every = N`` makes
every Nth frame high priority (class 0) for the ``priority`` downlink queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.records import FrameRecord

if TYPE_CHECKING:
    from sim.engine import Mission


def camera_process(m: Mission):
    """simpy process: capture frames at the cadence for the whole run."""
    cam = m.scenario.camera
    env = m.env
    n_sources = len(m.source)
    taken = 0
    while True:
        allowed = cam.capture == "always" or (m.geometry.in_eclipse(env.now) == (cam.capture == "eclipse"))
        src = taken % n_sources
        raw_bytes = m.source.raw_bytes(src)
        if allowed and m.raw.can_capture(raw_bytes):
            priority = 0 if cam.priority_every and taken % cam.priority_every == 0 else 1
            rec = FrameRecord(frame_id=taken, source=src, name=m.source.name(src), priority=priority,
                              captured_s=env.now, raw_bytes=raw_bytes)
            taken += 1
            m.records.append(rec)
            m.count.generated_bytes += raw_bytes
            m.raw.put(rec)
        yield env.timeout(cam.cadence_s)
