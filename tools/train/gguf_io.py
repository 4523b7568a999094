"""Minimal GGUF v3 writer and reader (spec: ggml/docs/gguf.md), little-endian only.

Writer: metadata keys are written in insertion order, tensors in insertion order, each tensor's
data at an offset (relative to the data section) that is a multiple of the alignment, zero padded.
Reader: parses the header, metadata and tensor table and returns numpy views of F32/F16 tensors;
it checks bounds so a truncated file raises ValueError rather than returning short data.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# gguf value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
           BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}

# ggml tensor types we write/read
GGML_F32, GGML_F16 = 0, 1
_NP_DTYPE = {GGML_F32: np.dtype("<f4"), GGML_F16: np.dtype("<f2")}


def _pack_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, value, elem_type=None):
    if vtype == STRING:
        return _pack_string(value)
    if vtype == ARRAY:
        out = [struct.pack("<IQ", elem_type, len(value))]
        out += [_pack_value(elem_type, v) for v in value]
        return b"".join(out)
    return struct.pack(_SCALAR[vtype], value)


class Writer:
    """Collects metadata and tensors, then writes the file in one go. Not thread-safe."""

    def __init__(self, alignment=ALIGNMENT):
        self.alignment = alignment
        self.kv = []       # (key, vtype, value, elem_type)
        self.tensors = []  # (name, ggml_type, np.ndarray in row-major numpy order)

    def add(self, key, vtype, value, elem_type=None):
        if any(k == key for k, *_ in self.kv):
            raise ValueError(f"duplicate key {key}")
        self.kv.append((key, vtype, value, elem_type))

    def add_tensor(self, name, array, ggml_type):
        """array's numpy shape is the reverse of the GGUF ne order (ne[0] = last numpy axis)."""
        if ggml_type not in _NP_DTYPE:
            raise ValueError(f"unsupported tensor type {ggml_type}")
        if any(n == name for n, *_ in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        self.tensors.append((name, ggml_type,
                             np.ascontiguousarray(array, dtype=_NP_DTYPE[ggml_type])))

    def _pad(self, n):
        return (-n) % self.alignment

    def write(self, path):
        head = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, vtype, value, elem_type in self.kv:
            head.append(_pack_string(key) + struct.pack("<I", vtype) +
                        _pack_value(vtype, value, elem_type))
        offset = 0
        offsets = []
        for name, gtype, arr in self.tensors:
            offsets.append(offset)
            ne = list(reversed(arr.shape))
            head.append(_pack_string(name) + struct.pack("<I", len(ne)) +
                        struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", gtype, offset))
            offset += arr.nbytes + self._pad(arr.nbytes)
        header = b"".join(head)
        with open(path, "wb") as f:
            f.write(header)
            f.write(b"\0" * self._pad(len(header)))
            for (name, gtype, arr), off in zip(self.tensors, offsets):
                f.write(arr.tobytes())
                f.write(b"\0" * self._pad(arr.nbytes))
        return offsets


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"truncated GGUF at byte {self.pos} (wanted {n} more)")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def string(self):
        (n,) = self.unpack("<Q")
        return bytes(self.take(n)).decode("utf-8")

    def value(self, vtype):
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            elem, n = self.unpack("<IQ")
            if n > len(self.buf):
                raise ValueError(f"array length {n} exceeds file size")
            return [self.value(elem) for _ in range(n)]
        if vtype not in _SCALAR:
            raise ValueError(f"bad value type {vtype}")
        return self.unpack(_SCALAR[vtype])[0]


def read(path):
    """Returns (metadata dict, {name: dict(type, ne, offset, abs_offset, data)}).
    data is a numpy array in numpy (reversed-ne) shape for F32/F16, else None."""
    with open(path, "rb") as f:
        buf = memoryview(f.read())
    c = _Cursor(buf)
    if bytes(c.take(4)) != GGUF_MAGIC:
        raise ValueError("not a GGUF file")
    version, n_tensors, n_kv = c.unpack("<IQQ")
    if version != GGUF_VERSION:
        raise ValueError(f"GGUF version {version}, expected 3")
    meta, types = {}, {}
    for _ in range(n_kv):
        key = c.string()
        (vtype,) = c.unpack("<I")
        meta[key] = c.value(vtype)
        types[key] = vtype
    align = meta.get("general.alignment", ALIGNMENT)
    infos = []
    for _ in range(n_tensors):
        name = c.string()
        (nd,) = c.unpack("<I")
        ne = list(c.unpack(f"<{nd}Q"))
        gtype, off = c.unpack("<IQ")
        infos.append((name, ne, gtype, off))
    data_start = c.pos + (-c.pos) % align
    tensors = {}
    for name, ne, gtype, off in infos:
        if off % align:
            raise ValueError(f"tensor {name} offset {off} not aligned to {align}")
        arr = None
        if gtype in _NP_DTYPE:
            count = int(np.prod(ne))
            start = data_start + off
            end = start + count * _NP_DTYPE[gtype].itemsize
            if end > len(buf):
                raise ValueError(f"tensor {name} runs past end of file")
            arr = np.frombuffer(buf[start:end], dtype=_NP_DTYPE[gtype]).reshape(
                list(reversed(ne)))
        tensors[name] = {"type": gtype, "ne": ne, "offset": off, "abs_offset": data_start + off,
                         "data": arr}
    meta["__types__"] = types
    return meta, tensors
