"""Run fully-integer-quantized (int8) TFLite networks with our own numba kernels.

A model is parsed once, without TensorFlow and without the interpreter, by a small
bounds-checked FlatBuffers reader over the TFLite schema (``tensorflow/lite/schema/
schema.fbs``; field slots are fixed by the schema's evolution rules).  Parsing
ourselves gives us what the interpreter's Python API hides (padding, strides, fused
activations) and lets a hostile or truncated file fail with a clear ``Int8NetworkError`` (a ``ModelError``)
instead of crashing native code.  At load time the fixed-point multipliers are derived
from the float32 scales exactly as TFLite's kernels do (see ``flight.int8_kernels``);
at run time only integer numba kernels execute.

Supported builtin ops (what the TFLite converter emits for small int8 conv nets):
CONV_2D (any kernel size, stride, dilation, SAME/VALID), DEPTHWISE_CONV_2D,
FULLY_CONNECTED (per-channel or per-tensor weights), ADD (with broadcasting),
CONCATENATION, RESHAPE, QUANTIZE (int8 -> int8 requantization), with fused NONE / RELU /
RELU6 / RELU_N1_TO_1.  Shape-computation ops (SHAPE, STRIDED_SLICE, PACK, ...) that only
feed a RESHAPE's shape operand are skipped: the target shape is read from the RESHAPE
output's shape signature instead.  Graph inputs and outputs must be int8; float I/O
(a QUANTIZE/DEQUANTIZE at the boundary) is rejected with a message saying how to
convert.  Rounding rule: TFLite's, round half away from zero (gemmlowp
``RoundingDivideByPOT``).

One quirk of the oracle is reproduced on purpose: LiteRT's *reference* FULLY_CONNECTED
(since April 2025) requantizes with ``round((double)acc * scale)`` instead of the
fixed-point multiplier.  We compute that double product exactly with integers
(``int8_kernels.round_mul_double``), so FC layers stay integer-only and bit-exact.  For
networks on the coding path, prefer 1x1 CONV_2D over Dense: it is the same computation
with TFLite's fixed-point requantization.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flight import int8_kernels as K
from flight.errors import ModelError

# TFLite schema enums (schema.fbs).
_OP_ADD, _OP_CONCAT, _OP_CONV, _OP_DWCONV, _OP_DEQUANTIZE, _OP_FC = 0, 2, 3, 4, 6, 9
_OP_RESHAPE, _OP_QUANTIZE = 22, 114
_OP_NAMES = {0: "ADD", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE",
             9: "FULLY_CONNECTED", 22: "RESHAPE", 114: "QUANTIZE", 1: "AVERAGE_POOL_2D",
             17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 34: "PAD", 77: "SHAPE",
             45: "STRIDED_SLICE", 83: "PACK", 98: "LEAKY_RELU", 14: "LOGISTIC", 28: "TANH",
             25: "SOFTMAX", 26: "SPACE_TO_DEPTH", 5: "DEPTH_TO_SPACE", 38: "SPACE_TO_BATCH_ND",
             37: "BATCH_TO_SPACE_ND", 40: "MEAN", 41: "SUB"}
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}
_T_FLOAT32, _T_INT32, _T_INT64, _T_INT8 = 0, 2, 4, 9
_PAD_SAME, _PAD_VALID = 0, 1


class Int8NetworkError(ModelError):
    """A model file that is missing, corrupt, truncated, not int8, or uses an unsupported op."""


# --------------------------------------------------------------------------------------
# A minimal, bounds-checked FlatBuffers reader.
# --------------------------------------------------------------------------------------


class _Buf:
    def __init__(self, data: bytes):
        self.data = data
        self.n = len(data)

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > self.n:
            raise Int8NetworkError("truncated or corrupt model (read past the end of the file)")
        return struct.unpack_from(fmt, self.data, pos)[0]


class _Table:
    """One FlatBuffers table: fields addressed by their schema slot number."""

    def __init__(self, buf: _Buf, pos: int):
        self.buf = buf
        self.pos = pos
        self.vt = pos - buf.unpack("<i", pos)
        self.vt_size = buf.unpack("<H", self.vt)
        if self.vt_size < 4 or self.vt + self.vt_size > buf.n:
            raise Int8NetworkError("corrupt model (bad vtable)")

    def _off(self, slot: int) -> int:
        o = 4 + 2 * slot
        return self.buf.unpack("<H", self.vt + o) if o < self.vt_size else 0

    def scalar(self, slot: int, fmt: str, default: Any) -> Any:
        o = self._off(slot)
        return self.buf.unpack("<" + fmt, self.pos + o) if o else default

    def table(self, slot: int) -> _Table | None:
        o = self._off(slot)
        if not o:
            return None
        p = self.pos + o
        return _Table(self.buf, p + self.buf.unpack("<I", p))

    def _vector(self, slot: int, elem: int) -> tuple[int, int] | None:
        o = self._off(slot)
        if not o:
            return None
        p = self.pos + o
        vp = p + self.buf.unpack("<I", p)
        n = self.buf.unpack("<I", vp)
        if vp + 4 + n * elem > self.buf.n:
            raise Int8NetworkError("truncated or corrupt model (vector past the end of the file)")
        return vp + 4, n

    def array(self, slot: int, dtype: str) -> np.ndarray | None:
        dt = np.dtype(dtype).newbyteorder("<")
        v = self._vector(slot, dt.itemsize)
        if v is None:
            return None
        start, n = v
        return np.frombuffer(self.buf.data, dtype=dt, count=n, offset=start).astype(dt.newbyteorder("="))

    def tables(self, slot: int) -> list[_Table]:
        v = self._vector(slot, 4)
        if v is None:
            return []
        start, n = v
        return [_Table(self.buf, start + 4 * i + self.buf.unpack("<I", start + 4 * i)) for i in range(n)]

    def string(self, slot: int) -> str:
        v = self._vector(slot, 1)
        if v is None:
            return ""
        start, n = v
        return self.buf.data[start:start + n].decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------
# Graph description.
# --------------------------------------------------------------------------------------


@dataclass
class _Tensor:
    name: str
    type: int
    shape: tuple[int, ...]        # shape_signature when present (-1 = variable)
    scale: np.ndarray             # float32 scales (empty when not quantized)
    zero_point: np.ndarray        # int64 zero points
    quantized_dimension: int
    data: np.ndarray | None       # constant contents, or None

    @property
    def s(self) -> np.float32:
        return np.float32(self.scale[0]) if len(self.scale) else np.float32(0.0)

    @property
    def zp(self) -> int:
        return int(self.zero_point[0]) if len(self.zero_point) else 0


@dataclass
class _Op:
    code: int
    inputs: list[int]
    outputs: list[int]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return _OP_NAMES.get(self.code, f"builtin op {self.code}")


def _parse(data: bytes) -> tuple[list[_Tensor], list[_Op], list[int], list[int]]:
    if len(data) < 8:
        raise Int8NetworkError("not a TFLite model (file too short)")
    if data[4:8] != b"TFL3":
        raise Int8NetworkError("not a TFLite model (missing the TFL3 file identifier)")
    buf = _Buf(data)
    model = _Table(buf, buf.unpack("<I", 0))
    codes = []
    for oc in model.tables(1):
        dep = oc.scalar(0, "b", 0)
        code = oc.scalar(3, "i", 0)
        codes.append(max(dep, code))
    buffers = model.tables(4)
    subgraphs = model.tables(2)
    if len(subgraphs) != 1:
        raise Int8NetworkError(f"expected one subgraph, found {len(subgraphs)}")
    sg = subgraphs[0]

    tensors = []
    for t in sg.tables(0):
        shape = t.array(0, "i4")
        sig = t.array(7, "i4")
        shp = tuple(int(v) for v in (sig if sig is not None and len(sig) else
                                     (shape if shape is not None else ())))
        q = t.table(4)
        scale = np.zeros(0, np.float32)
        zp = np.zeros(0, np.int64)
        qdim = 0
        if q is not None:
            s = q.array(2, "f4")
            z = q.array(3, "i8")
            scale = s if s is not None else scale
            zp = z if z is not None else zp
            qdim = q.scalar(6, "i", 0)
        ttype = t.scalar(1, "b", 0)
        bidx = t.scalar(2, "I", 0)
        const = None
        if bidx:
            if bidx >= len(buffers):
                raise Int8NetworkError("corrupt model (tensor refers to a missing buffer)")
            b = buffers[bidx]
            raw = b.array(0, "u1")
            offset, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
            if (raw is None or len(raw) == 0) and offset > 1:
                if offset + size > len(data):
                    raise Int8NetworkError("truncated model (external buffer past the end of the file)")
                raw = np.frombuffer(data, np.uint8, count=size, offset=offset)
            if raw is not None and len(raw):
                const = _decode_const(raw, ttype, shape)
        tensors.append(_Tensor(t.string(3), ttype, shp, scale, zp, qdim, const))

    ops = []
    for o in sg.tables(3):
        idx = o.scalar(0, "I", 0)
        if idx >= len(codes):
            raise Int8NetworkError("corrupt model (operator refers to a missing opcode)")
        ins = [int(v) for v in (o.array(1, "i4") if o.array(1, "i4") is not None else [])]
        outs = [int(v) for v in (o.array(2, "i4") if o.array(2, "i4") is not None else [])]
        for v in ins + outs:
            if v >= len(tensors) or v < -1:
                raise Int8NetworkError("corrupt model (operator refers to a missing tensor)")
        ops.append(_Op(codes[idx], ins, outs, _options(codes[idx], o.table(4))))
    inputs = [int(v) for v in (sg.array(1, "i4") if sg.array(1, "i4") is not None else [])]
    outputs = [int(v) for v in (sg.array(2, "i4") if sg.array(2, "i4") is not None else [])]
    for v in inputs + outputs:
        if not 0 <= v < len(tensors):
            raise Int8NetworkError("corrupt model (graph input/output refers to a missing tensor)")
    return tensors, ops, inputs, outputs


def _decode_const(raw: np.ndarray, ttype: int, shape: np.ndarray | None) -> np.ndarray:
    dtypes = {_T_INT8: "i1", _T_INT32: "<i4", _T_INT64: "<i8", _T_FLOAT32: "<f4", 3: "u1", 7: "<i2"}
    if ttype not in dtypes:
        return raw
    dt = np.dtype(dtypes[ttype])
    if len(raw) % dt.itemsize:
        raise Int8NetworkError("corrupt model (constant buffer size does not match its type)")
    arr = raw.view(dt).astype(dt.newbyteorder("="))
    if shape is not None and int(np.prod(shape)) == arr.size:
        arr = arr.reshape(tuple(int(v) for v in shape))
    return arr


def _options(code: int, t: _Table | None) -> dict[str, Any]:
    """Builtin options of the ops we run (slot numbers from schema.fbs)."""
    if t is None:
        return {}
    if code == _OP_CONV:
        return dict(padding=t.scalar(0, "b", 0), stride_w=t.scalar(1, "i", 1), stride_h=t.scalar(2, "i", 1),
                    act=t.scalar(3, "b", 0), dil_w=t.scalar(4, "i", 1), dil_h=t.scalar(5, "i", 1))
    if code == _OP_DWCONV:
        return dict(padding=t.scalar(0, "b", 0), stride_w=t.scalar(1, "i", 1), stride_h=t.scalar(2, "i", 1),
                    depth_multiplier=t.scalar(3, "i", 1), act=t.scalar(4, "b", 0),
                    dil_w=t.scalar(5, "i", 1), dil_h=t.scalar(6, "i", 1))
    if code == _OP_FC:
        return dict(act=t.scalar(0, "b", 0), weights_format=t.scalar(1, "b", 0),
                    keep_num_dims=bool(t.scalar(2, "B", 0)))
    if code == _OP_ADD:
        return dict(act=t.scalar(0, "b", 0))
    if code == _OP_CONCAT:
        return dict(axis=t.scalar(0, "i", 0), act=t.scalar(1, "b", 0))
    if code == _OP_RESHAPE:
        ns = t.array(0, "i4")
        return dict(new_shape=None if ns is None else [int(v) for v in ns])
    return {}


# --------------------------------------------------------------------------------------
# Prepared ops: everything derived once at load time.
# --------------------------------------------------------------------------------------


def _same_or_valid(padding: int, size: int, k: int, stride: int, dil: int) -> tuple[int, int]:
    """Output size and leading pad, as TFLite's ``ComputePaddingHeightWidth``."""
    eff = (k - 1) * dil + 1
    if padding == _PAD_SAME:
        out = (size + stride - 1) // stride
    elif padding == _PAD_VALID:
        out = (size - eff + stride) // stride
    else:
        raise Int8NetworkError(f"unsupported padding code {padding}")
    pad = max((out - 1) * stride + eff - size, 0) // 2
    return max(out, 0), pad


class _Prepared:
    """An op with its integer parameters; ``run`` maps input arrays to the output array."""

    macs_per_position = 0

    def out_shape(self, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        raise NotImplementedError

    def run(self, xs: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class _Conv(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        x, w = t[op.inputs[0]], t[op.inputs[1]]
        b = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = t[op.outputs[0]]
        _require_const_int8_weights(op, w, qdim=0)
        c_out, self.kh, self.kw, c_in = w.data.shape
        self.c_in, self.c_out = c_in, c_out
        p = op.params
        self.padding, self.sh, self.sw = p.get("padding", 0), p.get("stride_h", 1), p.get("stride_w", 1)
        self.dh, self.dw = p.get("dil_h", 1), p.get("dil_w", 1)
        if min(self.sh, self.sw, self.dh, self.dw) < 1:
            raise Int8NetworkError(f"{op.name}: bad stride/dilation")
        self.w = np.ascontiguousarray(w.data.reshape(c_out, -1).astype(np.int16))
        self.wt = np.ascontiguousarray(self.w.T.astype(np.int32))
        self.bias = _bias(b, c_out, op)
        scales = w.scale if len(w.scale) == c_out else np.repeat(w.scale[:1], c_out)
        self.mult, self.shift = K.conv_multipliers(x.s, scales, y.s)
        self.in_zp, self.out_zp = x.zp, y.zp
        self.act_min, self.act_max = K.activation_range(p.get("act", 0), y.s, y.zp)
        self.macs_per_position = self.kh * self.kw * c_in * c_out
        _check_accumulator(op, self.w, self.bias, x.zp)

    def _geom(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        oh, pt = _same_or_valid(self.padding, shape[1], self.kh, self.sh, self.dh)
        ow, pl = _same_or_valid(self.padding, shape[2], self.kw, self.sw, self.dw)
        return oh, ow, pt, pl

    def out_shape(self, shapes):
        s = shapes[0]
        if len(s) != 4 or s[3] != self.c_in:
            raise Int8NetworkError(f"CONV_2D expects [B,H,W,{self.c_in}] input, got {list(s)}")
        oh, ow, _, _ = self._geom(s)
        return (s[0], oh, ow, self.c_out)

    def run(self, xs):
        oh, ow, pt, pl = self._geom(xs[0].shape)
        return K.conv2d(np.ascontiguousarray(xs[0]), self.w, self.wt, self.bias, self.mult, self.shift,
                        self.in_zp, self.out_zp, self.act_min, self.act_max,
                        self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, pt, pl, oh, ow)


class _DepthwiseConv(_Conv):
    def __init__(self, op: _Op, t: list[_Tensor]):
        x, w = t[op.inputs[0]], t[op.inputs[1]]
        b = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = t[op.outputs[0]]
        _require_const_int8_weights(op, w, qdim=3)
        _, self.kh, self.kw, c_out = w.data.shape
        p = op.params
        self.padding, self.sh, self.sw = p.get("padding", 0), p.get("stride_h", 1), p.get("stride_w", 1)
        self.dh, self.dw = p.get("dil_h", 1), p.get("dil_w", 1)
        if min(self.sh, self.sw, self.dh, self.dw) < 1:
            raise Int8NetworkError(f"{op.name}: bad stride/dilation")
        self.c_out = c_out
        c_in = x.shape[3] if len(x.shape) == 4 and x.shape[3] > 0 else None
        self.depth_mult = c_out // c_in if c_in else max(1, p.get("depth_multiplier", 1))
        self.c_in = c_out // self.depth_mult
        if self.c_in * self.depth_mult != c_out:
            raise Int8NetworkError("DEPTHWISE_CONV_2D: output channels are not a multiple of input channels")
        self.w = np.ascontiguousarray(w.data[0].astype(np.int16))
        self.bias = _bias(b, c_out, op)
        scales = w.scale if len(w.scale) == c_out else np.repeat(w.scale[:1], c_out)
        self.mult, self.shift = K.conv_multipliers(x.s, scales, y.s)
        self.in_zp, self.out_zp = x.zp, y.zp
        self.act_min, self.act_max = K.activation_range(p.get("act", 0), y.s, y.zp)
        self.macs_per_position = self.kh * self.kw * c_out
        _check_accumulator(op, self.w.reshape(-1, c_out).T, self.bias, x.zp)

    def run(self, xs):
        oh, ow, pt, pl = self._geom(xs[0].shape)
        return K.depthwise_conv2d(xs[0], self.w, self.bias, self.mult, self.shift, self.in_zp, self.out_zp,
                                  self.act_min, self.act_max, self.depth_mult, self.sh, self.sw,
                                  self.dh, self.dw, pt, pl, oh, ow)


class _FullyConnected(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        x, w = t[op.inputs[0]], t[op.inputs[1]]
        b = t[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = t[op.outputs[0]]
        if w.data is None or w.type != _T_INT8 or w.data.ndim != 2:
            raise Int8NetworkError("FULLY_CONNECTED: weights must be a constant int8 [out, in] matrix")
        if op.params.get("weights_format", 0) != 0:
            raise Int8NetworkError("FULLY_CONNECTED: only the default weights format is supported")
        self.c_out, self.k = w.data.shape
        self.keep_num_dims = op.params.get("keep_num_dims", False)
        # TFLite's weights_offset is -zero_point (always 0 for the converter's symmetric weights).
        w_zp = w.zp
        self.w = np.ascontiguousarray(w.data.astype(np.int16) - np.int16(w_zp))
        self.bias = _bias(b, self.c_out, op)
        if len(w.scale) not in (1, self.c_out):
            raise Int8NetworkError("FULLY_CONNECTED: per-channel scales do not match the output units")
        # LiteRT's reference FC requantizes in double with this scale (see int8_kernels).
        scales = np.broadcast_to(np.asarray(w.scale, np.float32), (self.c_out,))
        pairs = [K.double_as_integer(float(x.s) * float(fs) / float(y.s)) for fs in scales]
        self.mant = np.array([m for m, _ in pairs], np.int64)
        self.exp2 = np.array([e for _, e in pairs], np.int64)
        self.in_zp, self.out_zp = x.zp, y.zp
        self.act_min, self.act_max = K.activation_range(op.params.get("act", 0), y.s, y.zp)
        self.macs_per_position = self.k * self.c_out
        _check_accumulator(op, self.w, self.bias, x.zp)

    def out_shape(self, shapes):
        s = shapes[0]
        n = int(np.prod(s))
        if n % self.k:
            raise Int8NetworkError(f"FULLY_CONNECTED: input {list(s)} is not a multiple of {self.k}")
        if self.keep_num_dims:
            return tuple(s[:-1]) + (self.c_out,)
        return (n // self.k, self.c_out)

    def run(self, xs):
        x = np.ascontiguousarray(xs[0]).reshape(-1, self.k)
        y = K.fully_connected(x, self.w, self.bias, self.mant, self.exp2, self.in_zp, self.out_zp,
                              self.act_min, self.act_max)
        return y.reshape(self.out_shape([xs[0].shape]))


class _Add(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        a, b, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        self.left_shift = 20
        twice_max = float(np.float32(2) * max(a.s, b.s))
        self.a_m, self.a_s = K.quantize_multiplier_smaller_than_one(float(a.s) / twice_max)
        self.b_m, self.b_s = K.quantize_multiplier_smaller_than_one(float(b.s) / twice_max)
        self.o_m, self.o_s = K.quantize_multiplier_smaller_than_one(
            twice_max / float(np.float32(1 << self.left_shift) * y.s))
        self.a_zp, self.b_zp, self.out_zp = a.zp, b.zp, y.zp
        self.act_min, self.act_max = K.activation_range(op.params.get("act", 0), y.s, y.zp)

    def out_shape(self, shapes):
        try:
            return tuple(np.broadcast_shapes(*shapes))
        except ValueError as e:
            raise Int8NetworkError(f"ADD: shapes {shapes} do not broadcast") from e

    def run(self, xs):
        a, b = np.broadcast_arrays(xs[0], xs[1])
        out = K.add(np.ascontiguousarray(a), np.ascontiguousarray(b), self.a_zp, self.b_zp, self.left_shift,
                    self.a_m, self.a_s, self.b_m, self.b_s, self.o_m, self.o_s, self.out_zp,
                    self.act_min, self.act_max)
        return out.reshape(a.shape)


class _Concat(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        y = t[op.outputs[0]]
        for i in op.inputs:
            if t[i].s != y.s or t[i].zp != y.zp:
                raise Int8NetworkError("CONCATENATION: int8 inputs must share the output's scale and zero point")
        if op.params.get("act", 0) != 0:
            raise Int8NetworkError("CONCATENATION: fused activations are not supported")
        self.axis = op.params.get("axis", 0)

    def out_shape(self, shapes):
        rank = len(shapes[0])
        ax = self.axis % rank
        out = list(shapes[0])
        for s in shapes:
            if len(s) != rank or any(a != b for d, (a, b) in enumerate(zip(s, out, strict=True)) if d != ax):
                raise Int8NetworkError(f"CONCATENATION: shapes {shapes} do not match off axis {self.axis}")
        out[ax] = sum(s[ax] for s in shapes)
        return tuple(out)

    def run(self, xs):
        return np.concatenate(xs, axis=self.axis % xs[0].ndim)


class _Reshape(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        x, y = t[op.inputs[0]], t[op.outputs[0]]
        if x.s != y.s or x.zp != y.zp:
            raise Int8NetworkError("RESHAPE: input and output quantization differ")
        target = list(y.shape)
        if sum(1 for v in target if v < 0) > 1:
            shape_in = t[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
            if shape_in is not None and shape_in.data is not None:
                target = [int(v) for v in shape_in.data.ravel()]
            elif op.params.get("new_shape"):
                target = op.params["new_shape"]
        if sum(1 for v in target if v < 0) > 1:
            raise Int8NetworkError("RESHAPE: target shape has more than one unknown dimension")
        self.target = tuple(target)

    def out_shape(self, shapes):
        n = int(np.prod(shapes[0]))
        known = int(np.prod([v for v in self.target if v >= 0]))
        out = tuple((n // known if known else 0) if v < 0 else v for v in self.target)
        if int(np.prod(out)) != n:
            raise Int8NetworkError(f"RESHAPE: cannot reshape {list(shapes[0])} to {list(self.target)}")
        return out

    def run(self, xs):
        return xs[0].reshape(self.out_shape([xs[0].shape]))


class _Requantize(_Prepared):
    def __init__(self, op: _Op, t: list[_Tensor]):
        x, y = t[op.inputs[0]], t[op.outputs[0]]
        if x.type != _T_INT8 or y.type != _T_INT8:
            raise Int8NetworkError(
                f"QUANTIZE from {_TYPE_NAMES.get(x.type, x.type)} to {_TYPE_NAMES.get(y.type, y.type)}: "
                "only int8 -> int8 requantization is supported inside the graph")
        self.m, self.s = K.quantize_multiplier(float(x.s) / float(y.s))
        self.in_zp, self.out_zp = x.zp, y.zp

    def out_shape(self, shapes):
        return shapes[0]

    def run(self, xs):
        return K.requantize(np.ascontiguousarray(xs[0]), self.in_zp, self.out_zp, self.m, self.s).reshape(
            xs[0].shape)


def _require_const_int8_weights(op: _Op, w: _Tensor, qdim: int) -> None:
    if w.data is None or w.type != _T_INT8 or w.data.ndim != 4:
        raise Int8NetworkError(f"{op.name}: weights must be a constant int8 4-D tensor")
    if np.any(w.zero_point != 0):
        raise Int8NetworkError(f"{op.name}: weights must be symmetric (zero point 0)")
    if len(w.scale) > 1 and (w.quantized_dimension != qdim or len(w.scale) != w.data.shape[qdim]):
        raise Int8NetworkError(f"{op.name}: unexpected per-channel quantization layout")
    if len(w.scale) == 0:
        raise Int8NetworkError(f"{op.name}: weights are not quantized")


def _check_accumulator(op: _Op, w: np.ndarray, bias: np.ndarray, in_zp: int) -> None:
    """Prove that no int32 accumulation of this op can overflow, for any int8 input.

    |acc| <= sum_k |w[c, k]| * max|x - zp| + |bias[c]|, with max|x - zp| = 128 + |zp| at
    most 255.  For int8 weights that allows over 65,000 taps (a 3x3x64 kernel has 576);
    a model beyond it is refused rather than run with silently wrapping sums.
    """
    span = max(127 - in_zp, in_zp + 128)
    bound = np.abs(w.astype(np.int64)).sum(axis=1) * span + np.abs(bias.astype(np.int64))
    if bound.size and int(bound.max()) > (1 << 31) - 1:
        raise Int8NetworkError(f"{op.name}: the int32 accumulator could overflow (bound {int(bound.max())})")


def _bias(b: _Tensor | None, n: int, op: _Op) -> np.ndarray:
    if b is None:
        return np.zeros(n, np.int32)
    if b.data is None or b.type != _T_INT32 or b.data.size != n:
        raise Int8NetworkError(f"{op.name}: bias must be a constant int32 vector of {n}")
    return np.ascontiguousarray(b.data.ravel().astype(np.int32))


_PREPARE = {_OP_CONV: _Conv, _OP_DWCONV: _DepthwiseConv, _OP_FC: _FullyConnected, _OP_ADD: _Add,
            _OP_CONCAT: _Concat, _OP_RESHAPE: _Reshape, _OP_QUANTIZE: _Requantize}
# Which inputs of an op carry int8 activations (the rest are constants or shape operands).
_DATA_INPUTS = {_OP_CONV: 1, _OP_DWCONV: 1, _OP_FC: 1, _OP_RESHAPE: 1, _OP_QUANTIZE: 1}


# --------------------------------------------------------------------------------------
# The network.
# --------------------------------------------------------------------------------------


class Int8Network:
    """An int8 TFLite graph compiled to a list of prepared integer ops.

    ``run`` is bit-identical to the LiteRT interpreter with ``BUILTIN_REF`` kernels.
    Dimensions given as -1 in the model's shape signature (batch, and H, W for
    fully convolutional nets) accept any size at run time.
    """

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def __init__(self, tensors: list[_Tensor], ops: list[_Op], inputs: list[int], outputs: list[int]):
        if len(inputs) != 1 or len(outputs) != 1:
            raise Int8NetworkError(f"expected one input and one output, found {len(inputs)} and {len(outputs)}")
        for role, idx in (("input", inputs[0]), ("output", outputs[0])):
            tt = tensors[idx]
            if tt.type != _T_INT8:
                raise Int8NetworkError(
                    f"model {role} is {_TYPE_NAMES.get(tt.type, tt.type)}, not int8: convert with full-integer "
                    "quantization and inference_input_type=tf.int8, inference_output_type=tf.int8")
            if len(tt.scale) != 1:
                raise Int8NetworkError(f"model {role} is not per-tensor quantized")
        self._tensors = tensors
        self._in, self._out = inputs[0], outputs[0]
        self._plan = self._schedule(ops)
        tin, tout = tensors[self._in], tensors[self._out]
        self.input_shape, self.output_shape = tin.shape, tout.shape
        self.input_scale, self.input_zero_point = float(tin.s), tin.zp
        self.output_scale, self.output_zero_point = float(tout.s), tout.zp

    def _schedule(self, ops: list[_Op]) -> list[tuple[_Prepared, list[int], int]]:
        """Keep the ops the output depends on through int8 data, in graph order."""
        producer = {o: i for i, op in enumerate(ops) for o in op.outputs}
        needed: set[int] = set()
        stack = [self._out]
        seen: set[int] = set()
        while stack:
            tidx = stack.pop()
            if tidx in seen:
                continue
            seen.add(tidx)
            if tidx not in producer:
                continue
            i = producer[tidx]
            needed.add(i)
            op = ops[i]
            n_data = _DATA_INPUTS.get(op.code, len(op.inputs))
            stack.extend(v for v in op.inputs[:n_data] if v >= 0 and self._tensors[v].data is None)
        plan = []
        available = {self._in}
        for i in sorted(needed):
            op = ops[i]
            if op.code in (_OP_DEQUANTIZE,) or op.code not in _PREPARE:
                raise Int8NetworkError(f"unsupported op {op.name} in the int8 data path")
            if len(op.outputs) != 1:
                raise Int8NetworkError(f"{op.name}: expected one output")
            n_data = _DATA_INPUTS.get(op.code, len(op.inputs))
            data_in = [v for v in op.inputs[:n_data] if v >= 0]
            for v in data_in:
                if self._tensors[v].type != _T_INT8:
                    raise Int8NetworkError(f"{op.name}: input '{self._tensors[v].name}' is not int8")
            if self._tensors[op.outputs[0]].type != _T_INT8:
                raise Int8NetworkError(f"{op.name}: output is not int8")
            for v in data_in + [op.outputs[0]]:
                sc = self._tensors[v].scale
                if len(sc) < 1 or not (np.all(np.isfinite(sc)) and np.all(sc > 0)):
                    raise Int8NetworkError(f"{op.name}: tensor '{self._tensors[v].name}' has no valid scale")
                if not -128 <= self._tensors[v].zp <= 127:
                    raise Int8NetworkError(f"{op.name}: tensor '{self._tensors[v].name}' has a bad zero point")
            for v in data_in:
                if v not in available and self._tensors[v].data is None:
                    raise Int8NetworkError(f"{op.name}: input '{self._tensors[v].name}' is not computed before it")
            try:
                prepared = _PREPARE[op.code](op, self._tensors)
            except (IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError) as e:
                raise Int8NetworkError(f"{op.name}: malformed operator ({e})") from e
            plan.append((prepared, data_in, op.outputs[0]))
            available.add(op.outputs[0])
        if self._out not in available:
            raise Int8NetworkError("the model output is not computed from its input")
        return plan

    # ---------------------------------------------------------------------------------
    @classmethod
    def from_tflite(cls, data: bytes) -> Int8Network:
        """Parse a fully-integer-quantized .tflite flatbuffer (bytes)."""
        try:
            return cls(*_parse(bytes(data)))
        except Int8NetworkError:
            raise
        except (struct.error, ValueError, IndexError, UnicodeDecodeError, OverflowError) as e:
            raise Int8NetworkError(f"corrupt model ({e})") from e

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int8:
            raise ValueError(f"input must be int8, got {x.dtype}")
        sig = self.input_shape
        # The batch dimension is free even when the model was converted with a fixed one
        # (as LiteRT's resize_tensor_input allows); other fixed dimensions must match.
        if x.ndim != len(sig) or any(s >= 0 and s != d for s, d in zip(sig[1:], x.shape[1:], strict=True)):
            raise ValueError(f"input shape {x.shape} does not match the model's {sig}")
        return np.ascontiguousarray(x)

    def infer_shapes(self, input_shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
        """Shape of every tensor on the data path for a given input shape."""
        shapes = {self._in: tuple(int(v) for v in input_shape)}
        for prep, data_in, out in self._plan:
            in_shapes = [shapes[v] if v in shapes else self._tensors[v].data.shape for v in data_in]
            shapes[out] = prep.out_shape(in_shapes)
        return shapes

    def run(self, x: np.ndarray) -> np.ndarray:
        """int8 in (NHWC or NC), int8 out, bit-identical to LiteRT's reference kernels."""
        x = self._check_input(x)
        if x.size == 0:  # nothing to compute (a zero batch or an empty tile)
            return np.zeros(self.infer_shapes(x.shape)[self._out], np.int8)
        values: dict[int, np.ndarray] = {self._in: x}
        for prep, data_in, out in self._plan:
            xs = [values[v] if v in values else self._tensors[v].data for v in data_in]
            expect = prep.out_shape([a.shape for a in xs])  # validates shapes before any kernel runs
            y = prep.run(xs)
            if y.shape != expect:
                raise Int8NetworkError(f"internal shape mismatch {y.shape} != {expect}")
            values[out] = y
        return values[self._out]

    def macs(self, input_shape: tuple[int, ...]) -> int:
        """Exact multiply-accumulates of one ``run`` on an input of this shape."""
        shapes = self.infer_shapes(input_shape)
        total = 0
        for prep, _, out in self._plan:
            if prep.macs_per_position:
                total += prep.macs_per_position * int(np.prod(shapes[out][:-1]))
        return total

    def macs_per_output_position(self) -> int:
        """MACs per position of the output (per pixel for conv nets, per row for MLPs).

        For stride-1 SAME conv nets this is the exact sum of kh*kw*Cin*Cout over the
        layers; in general it is measured on a 64x64 input (batch 1), rounded up.
        """
        shape = tuple(1 if i == 0 else (64 if v < 0 else v) for i, v in enumerate(self.input_shape))
        shapes = self.infer_shapes(shape)
        positions = int(np.prod(shapes[self._out][:-1]))
        return -(-self.macs(shape) // max(positions, 1))


def load_network(path: str | Path) -> Int8Network:
    """Load a .tflite file; a clear ``Int8NetworkError`` (a ModelError) on any problem."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as e:
        raise Int8NetworkError(f"model file not found: {p}") from e
    except OSError as e:
        raise Int8NetworkError(f"cannot read model file {p}: {e}") from e
    try:
        return Int8Network.from_tflite(data)
    except Int8NetworkError as e:
        raise Int8NetworkError(f"{p}: {e}") from e
