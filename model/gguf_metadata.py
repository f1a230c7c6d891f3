"""A GGUF file's key-value metadata, read straight from its header.

gguf-py's GGUFReader parses every field and tensor into numpy views, one per array element: the
bundled model's 49,152 tokens and 48,900 merges took it 8-15 s on a 2-core Zen 1, and a model load
read them twice (the tokenizer's fields, then the weights'). The tokenizer needs only the metadata,
which this reads in a fraction of a second (struct for scalars and strings, numpy for numeric
arrays); the weights keep gguf-py, whose tensor views its dequantisers read.

Layout (GGUF v2 and v3, little-endian): "GGUF", version u32, tensor count u64, key-value count u64,
then each pair as a string key (u64 length + UTF-8), a u32 value type and the value; an array is
its item type u32, its length u64 and the items.
"""

import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_MAGIC = b"GGUF"
_SCALARS = {  # value type -> struct format
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_NUMPY = {  # value type -> numpy dtype, for arrays of numbers
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8",
}  # fmt: skip
_STRING, _ARRAY = 8, 9


class GGUFMetadataError(ValueError):
    """Not a GGUF file this reader knows (magic, version, or a value type)."""


def read_metadata(path: Path, prefix: str = "") -> dict[str, Any]:
    """The file's key-value pairs whose key starts with `prefix`, as gguf-py's `field.contents()`
    gives them: numbers, booleans, strings, and lists of them."""
    with path.open("rb") as file:
        if file.read(4) != _MAGIC:
            raise GGUFMetadataError(f"{path.name} does not start with the GGUF magic.")
        version, _tensors, pairs = struct.unpack("<IQQ", _exactly(file, 20))
        if version not in (2, 3):
            raise GGUFMetadataError(f"{path.name} is GGUF version {version}; versions 2 and 3 are read.")
        meta: dict[str, Any] = {}
        for _ in range(pairs):
            key = _string(file)
            (kind,) = struct.unpack("<I", _exactly(file, 4))
            value = _value(file, kind)
            if key.startswith(prefix):
                meta[key] = value
        return meta


def _exactly(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise GGUFMetadataError("The GGUF header ends early: the file is truncated.")
    return data


def _string(file: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _exactly(file, 8))
    try:
        return _exactly(file, length).decode("utf-8")
    except UnicodeDecodeError as error:
        raise GGUFMetadataError(f"A GGUF string is not UTF-8 ({error}).") from error


def _value(file: BinaryIO, kind: int) -> Any:
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, _exactly(file, struct.calcsize(fmt)))[0]
    if kind == _STRING:
        return _string(file)
    if kind == _ARRAY:
        item, count = struct.unpack("<IQ", _exactly(file, 12))
        if item in _NUMPY:
            dtype = np.dtype(_NUMPY[item])
            values = np.frombuffer(_exactly(file, count * dtype.itemsize), dtype=dtype)
            return values.astype(bool).tolist() if item == 7 else values.tolist()
        return [_value(file, item) for _ in range(count)]
    raise GGUFMetadataError(f"Unknown GGUF value type {kind}.")
