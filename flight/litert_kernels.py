"""The second kernel set: LiteRT's interpreter with its reference kernels (``OpResolverType.BUILTIN_REF``).

The numba kernels of :mod:`flight.int8net` are the default everywhere. ``--kernels litert`` (``astroflight-encode``,
``astroflight-decode``) runs the same int8 networks of a model bundle on the TFLite runtime's reference kernels
instead: the runtime the product's design names, and the independent implementation that shows the integer path is
bit-exact across kernel sets (a frame coded with one set verifies when decoded with the other; tests/flight and
tests/tools check both directions). LiteRT's default XNNPACK delegate is NOT used: it differs from the reference
kernels by +-1 on some outputs (../shared/DESIGN.md, rule 2), which would corrupt a tile.

Needs the optional ``ai-edge-litert`` package (``pip install "astroflight[litert]"``; the ``test`` extra has it).
"""

from __future__ import annotations

import numpy as np

from flight.errors import InputError

#: Kernel sets a codec with networks can run on; "numba" is the default.
KERNEL_SETS = ("numba", "litert")


class LiteRtNet:
    """One network on LiteRT's reference kernels behind the ``.run(int8 NHWC) -> int8 NHWC`` signature of
    :class:`flight.int8net` networks. One interpreter per input shape, kept (resizing re-plans the graph)."""

    def __init__(self, blob: bytes) -> None:
        interpreter = _interpreter_module()
        self._make = lambda: interpreter.Interpreter(
            model_content=blob, experimental_op_resolver_type=interpreter.OpResolverType.BUILTIN_REF)
        self._by_shape: dict[tuple, object] = {}

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the network on an int8 NHWC batch; returns the int8 NHWC output (a copy)."""
        it = self._by_shape.get(x.shape)
        if it is None:
            it = self._make()
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape))
            it.allocate_tensors()
            self._by_shape[x.shape] = it
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def require_kernels(kernels: str) -> None:
    """Check up front that kernel set ``kernels`` exists and can run here; InputError (one line) if not."""
    if kernels not in KERNEL_SETS:
        raise InputError(f"unknown kernel set {kernels!r} (choose from {', '.join(KERNEL_SETS)})")
    if kernels == "litert":
        _interpreter_module()


def litert_nets(net_bytes: dict[str, bytes]) -> dict[str, LiteRtNet]:
    """Every network of a bundle (name -> .tflite bytes) on LiteRT's reference kernels.

    Raises InputError when ``ai-edge-litert`` is not installed.
    """
    return {name: LiteRtNet(blob) for name, blob in net_bytes.items()}


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError as exc:
        raise InputError('the litert kernel set needs the ai-edge-litert package: pip install "astroflight[litert]"'
                         f" ({exc})") from exc
    return interpreter
