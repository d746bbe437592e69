"""Tile codecs: the contract (:mod:`flight.codecs.base`), the ``raw`` and ``rice`` codecs, and the registry
(:mod:`flight.codecs.registry`: wire id -> codec class, ``get_codec``, ``codec_for_header``). The ``idf`` codec
lives in :mod:`flight.idf`.

Import from the submodules (``from flight.codecs.registry import get_codec``); this package module imports
nothing, so :mod:`flight.idf.codec` can build on the contract while the registry lists it.
"""
