"""The camera: one frame every ``camera.cadence_s``, when the capture rule allows, into the raw buffer.

Frame ``k`` shows source frame ``k mod n`` (:mod:`sim.world.sources`). ``camera.capture`` restricts imaging to eclipse
(stray light: many astronomy payloads observe only on the night side) or to sunlight; ``priority_every = N`` makes
every Nth frame high priority (class 0) for the ``priority`` downlink queue.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.mission.onboard import Onboard
from sim.mission.records import FrameRecord
from sim.scenario import CameraConfig
from sim.world.orbit import Geometry
from sim.world.sources import FrameSource


def camera_process(env: simpy.Environment, cam: CameraConfig, geometry: Geometry, source: FrameSource,
                   onboard: Onboard) -> Generator[simpy.Event, Any, None]:
    """simpy process: capture frames at the cadence for the whole run, into ``onboard``."""
    n_sources = len(source)
    taken = 0
    while True:
        allowed = cam.capture == "always" or (geometry.in_eclipse(env.now) == (cam.capture == "eclipse"))
        src = taken % n_sources
        raw_bytes = source.raw_bytes(src)
        if allowed and onboard.raw.can_capture(raw_bytes):
            priority = 0 if cam.priority_every and taken % cam.priority_every == 0 else 1
            rec = FrameRecord(frame_id=taken, source=src, name=source.name(src), priority=priority,
                              captured_s=env.now, raw_bytes=raw_bytes)
            taken += 1
            onboard.capture(rec)
        yield env.timeout(cam.cadence_s)
