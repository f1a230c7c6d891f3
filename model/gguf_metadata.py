"""A GGUF file's key-value metadata and tensor table, read straight from its header.

gguf-py's GGUFReader parses every field into numpy views, one per array element: the bundled
model's 49,152 tokens and 48,900 merges took it 8-15 s on a 2-core Zen 1, and a model load read
them twice (the tokenizer's fields, then the weights'). This reads them in a fraction of a second
(struct for scalars and strings, numpy for numeric arrays) and gives the tensors as gguf-py does
(name, type, dims, a read-only view of the file shaped as gguf-py shapes it), so its dequantisers
read them unchanged.

Layout (GGUF v2 and v3, little-endian): "GGUF", version u32, tensor count u64, key-value count u64,
then each pair as a string key (u64 length + UTF-8), a u32 value type and the value (an array is
its item type u32, its length u64 and the items); then each tensor's name, dimension count u32,
dims u64 (innermost first), type u32 and offset u64; the data starts at the next multiple of
general.alignment (32 unless given).
"""

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

_MAGIC = b"GGUF"
_SCALARS = {  # value type -> struct format
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_NUMPY = {  # value type -> numpy dtype, for arrays of numbers
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8", 12: "<f8",
}  # fmt: skip
_STRING, _ARRAY = 8, 9
# Tensor types gguf-py gives as values (the others as block bytes), by GGMLQuantizationType name.
_PLAIN_TYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}


class GGUFMetadataError(ValueError):
    """Not a GGUF file this reader knows (magic, version, or a value type)."""


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    tensor_type: Any  # gguf.GGMLQuantizationType
    shape: npt.NDArray[np.uint64]  # dims as the file lists them, innermost first
    data: npt.NDArray[Any]  # a read-only view of the file: values, or a quantised type's block bytes


@dataclass(frozen=True)
class GGUFFile:
    metadata: dict[str, Any]
    tensors: list[GGUFTensor]


def read_metadata(path: Path, prefix: str = "") -> dict[str, Any]:
    """The file's key-value pairs whose key starts with `prefix`, as gguf-py's `field.contents()`
    gives them: numbers, booleans, strings, and lists of them."""
    with path.open("rb") as file:
        _tensor_count, meta = _header(file, path, prefix)
        return meta


def read_gguf_file(path: Path) -> GGUFFile:
    """The metadata and every tensor, its data a view of the file mapped read-only."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with path.open("rb") as file:
        tensor_count, meta = _header(file, path)
        table = [_tensor_info(file) for _ in range(tensor_count)]
        alignment = int(meta.get("general.alignment", 32))
        data_start = -(-file.tell() // alignment) * alignment
    if len({name for name, *_ in table}) < len(table):
        raise GGUFMetadataError(f"{path.name} names a tensor twice.")
    mapped = np.memmap(path, mode="r")
    tensors = []
    for name, dims, type_id, offset in table:
        try:
            kind = GGMLQuantizationType(type_id)
        except ValueError as error:
            raise GGUFMetadataError(f"{path.name}: tensor {name} has unknown type {type_id}.") from error
        block_values, block_bytes = GGML_QUANT_SIZES[kind]
        count = int(np.prod(dims))
        start, size = data_start + offset, count * block_bytes // block_values
        if start + size > len(mapped):
            raise GGUFMetadataError(f"{path.name}: tensor {name} runs past the end of the file (truncated).")
        tensors.append(GGUFTensor(name, kind, dims, _view(mapped[start : start + size], kind, dims)))
    return GGUFFile(meta, tensors)


def _view(raw: npt.NDArray[np.uint8], kind: Any, dims: npt.NDArray[np.uint64]) -> npt.NDArray[Any]:
    """As gguf-py shapes a tensor's data: values for plain types, [..., row bytes] for block types."""
    from gguf.quants import quant_shape_to_byte_shape

    shape = tuple(int(d) for d in reversed(dims.tolist()))
    plain = _PLAIN_TYPES.get(kind.name)
    if plain is not None:
        return raw.view(plain).reshape(shape)
    return raw.reshape(quant_shape_to_byte_shape(shape, kind))



def _header(file: BinaryIO, path: Path, prefix: str = "") -> tuple[int, dict[str, Any]]:
    if file.read(4) != _MAGIC:
        raise GGUFMetadataError(f"{path.name} does not start with the GGUF magic.")
    version, tensor_count, pairs = struct.unpack("<IQQ", _exactly(file, 20))
    if version not in (2, 3):
        raise GGUFMetadataError(f"{path.name} is GGUF version {version}; versions 2 and 3 are read.")
    meta: dict[str, Any] = {}
    for _ in range(pairs):
        key = _string(file)
        (kind,) = struct.unpack("<I", _exactly(file, 4))
        value = _value(file, kind)
        if key.startswith(prefix):
            meta[key] = value
    return tensor_count, meta


def _tensor_info(file: BinaryIO) -> tuple[str, npt.NDArray[np.uint64], int, int]:
    name = _string(file)
    (dimensions,) = struct.unpack("<I", _exactly(file, 4))
    dims = np.frombuffer(_exactly(file, 8 * dimensions), dtype="<u8").copy()
    type_id, offset = struct.unpack("<IQ", _exactly(file, 12))
    return name, dims, type_id, offset


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
