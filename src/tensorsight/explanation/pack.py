"""The binary "pack" format that carries explanation data to the front end.

A pack is a small JSON header followed by raw little-endian arrays, so the browser can view
activations as typed arrays without parsing numbers out of text::

    b"TSP1" | uint32 LE header length | JSON header (space-padded to a multiple of 8) | body

>>> import numpy as np
>>> meta, arrays = decode_pack(encode_pack({"kind": "relu"}, {"x": np.zeros((2, 3), np.float32)}))
>>> meta["kind"], arrays["x"].shape
('relu', (2, 3))
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

MAGIC = b"TSP1"
_ALIGN = 8
_DTYPES: dict[str, np.dtype[Any]] = {
    "float32": np.dtype("<f4"),
    "uint8": np.dtype("u1"),
    "int32": np.dtype("<i4"),
}


class PackError(ValueError):
    """Raised when bytes are not a well-formed pack."""


def _pad(length: int) -> int:
    return -length % _ALIGN


def encode_pack(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """Encode JSON-able ``meta`` and named arrays (float32, uint8 or int32) into one pack."""
    index: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, array in arrays.items():
        dtype_name = np.dtype(array.dtype).name
        if dtype_name not in _DTYPES:
            raise PackError(f"array {name!r} has dtype {dtype_name}; packs hold {sorted(_DTYPES)}")
        nbytes = array.size * _DTYPES[dtype_name].itemsize
        index[name] = {
            "dtype": dtype_name,
            "shape": list(array.shape),
            "offset": offset,
            "nbytes": nbytes,
        }
        offset += nbytes + _pad(nbytes)
    header = json.dumps({"meta": meta, "arrays": index}, separators=(",", ":")).encode()
    header += b" " * _pad(len(MAGIC) + 4 + len(header))
    body_start = len(MAGIC) + 4 + len(header)
    # One buffer, each array copied into it once: a pack of a big network's f32 maps is tens of
    # MB, and joining pieces would hold several copies at once.
    pack = bytearray(body_start + offset)
    pack[:body_start] = MAGIC + struct.pack("<I", len(header)) + header
    for name, array in arrays.items():
        entry = index[name]
        start = body_start + entry["offset"]
        target = np.frombuffer(pack, dtype=_DTYPES[entry["dtype"]], count=array.size, offset=start)
        target.reshape(array.shape)[...] = array
    return bytes(pack)


def decode_pack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Decode a pack into ``(meta, arrays)``; arrays are read-only views into ``data``."""
    if len(data) < 8 or data[:4] != MAGIC:
        raise PackError("not a tensorsight pack (bad magic)")
    (header_length,) = struct.unpack_from("<I", data, 4)
    body_start = 8 + header_length
    if body_start > len(data):
        raise PackError("truncated pack header")
    header = json.loads(data[8:body_start])
    arrays = {}
    for name, entry in header["arrays"].items():
        start = body_start + entry["offset"]
        if start + entry["nbytes"] > len(data):
            raise PackError(f"truncated pack: array {name!r} runs past the end")
        flat = np.frombuffer(
            data,
            dtype=_DTYPES[entry["dtype"]],
            count=entry["nbytes"] // _DTYPES[entry["dtype"]].itemsize,
            offset=start,
        )
        arrays[name] = flat.reshape(entry["shape"])
    return header["meta"], arrays
