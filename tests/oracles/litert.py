"""LiteRT's interpreter with reference kernels as an independent oracle for ``flight.int8net``.

Needs ``ai-edge-litert`` (the ``test`` extra); flight code never imports it.
"""

from __future__ import annotations

import numpy as np

from flight.idf.bundle import Bundle


class LiteRtNet:
    """The LiteRT interpreter with reference kernels behind the ``.run(int8 NHWC) -> int8`` signature."""

    def __init__(self, blob: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self._make = lambda: Interpreter(model_content=blob,
                                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self._by_shape: dict[tuple, object] = {}

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the network on an int8 NHWC batch (one interpreter per input shape, kept)."""
        it = self._by_shape.get(x.shape)
        if it is None:
            it = self._make()
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape))
            it.allocate_tensors()
            self._by_shape[x.shape] = it
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def litert_nets(bundle: Bundle) -> dict[str, LiteRtNet]:
    """Every network of a loaded bundle on LiteRT's reference kernels (for ``IdfCodec(nets=...)``)."""
    return {name: LiteRtNet(blob) for name, blob in bundle.net_bytes.items()}
