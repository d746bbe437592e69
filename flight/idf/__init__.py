"""The IDF codec (codec id 2): a learned integer discrete flow with int8 networks and rANS, integer only.

Modules: :mod:`~flight.idf.spec` (the integer transform, one source of truth for flight, ground and training),
:mod:`~flight.idf.transform` (the transform run forward and inverse with a bundle's networks),
:mod:`~flight.idf.payload` (the tile payload bytes), :mod:`~flight.idf.search` (the encoder's side-information
search), :mod:`~flight.idf.codec` (``IdfCodec``: the codec contract, batching) and :mod:`~flight.idf.bundle`
(model bundle manifest, hash, loading).
"""
