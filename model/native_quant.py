"""The C step's view of GGUF blocks (model/csrc/quant_kernels.h): QuantMatrix structs and test entry points."""

import ctypes
import os
from typing import Any

import torch

from model.gguf_quant import GGUFEmbedding, GGUFLinear, layout_of

MAX_PARTS = 3  # KB_MAX_PARTS


class QuantMatrix(ctypes.Structure):
    _fields_ = [
        ("n_parts", ctypes.c_int32),
        ("cols", ctypes.c_int32),
        ("part_type", ctypes.c_int32 * MAX_PARTS),
        ("part_rows", ctypes.c_int32 * MAX_PARTS),
        ("part_row_bytes", ctypes.c_int64 * MAX_PARTS),
        ("part_data", ctypes.c_void_p * MAX_PARTS),
        ("bias", ctypes.c_void_p),
        ("strips", ctypes.c_void_p),
        ("strip_format", ctypes.c_int32),
    ]


def quant_matrix(module: GGUFLinear | GGUFEmbedding, rows: int, cols: int) -> tuple[QuantMatrix, list[torch.Tensor]]:
    """The struct for a module's blocks, checked against the shape the C step will trust, and the
    tensors it points into (the caller keeps them alive)."""
    if isinstance(module, GGUFEmbedding):
        types, counts, parts, bias = [module.type_id], [module.part0.shape[0]], [module.part0], None
    else:
        types, counts, parts, bias = module.part_types, module.part_rows, module.parts(), module.bias
    if len(parts) > MAX_PARTS:
        raise ValueError(f"The C step reads at most {MAX_PARTS} row ranges per matrix, not {len(parts)}.")
    if sum(counts) != rows:
        raise ValueError(f"A GGUF matrix of {sum(counts)} rows where the C step expects {rows}.")
    matrix = QuantMatrix(n_parts=len(parts), cols=cols)
    kept: list[torch.Tensor] = []
    for i, (type_id, count, data) in enumerate(zip(types, counts, parts, strict=True)):
        row_bytes = layout_of(type_id, "C step").row_bytes(cols)
        if tuple(data.shape) != (count, row_bytes) or data.dtype != torch.uint8 or not data.is_contiguous():
            found = f"{tuple(data.shape)} {data.dtype}"
            raise ValueError(f"GGUF part {i} is {found}, expected ({count}, {row_bytes}) uint8.")
        data = data.detach()
        matrix.part_type[i], matrix.part_rows[i], matrix.part_row_bytes[i] = type_id, count, row_bytes
        matrix.part_data[i] = data.data_ptr()
        kept.append(data)
    if bias is not None:
        bias = bias.detach()
        if tuple(bias.shape) != (rows,) or bias.dtype != torch.float32 or not bias.is_contiguous():
            raise ValueError(f"A bias of {tuple(bias.shape)} {bias.dtype}, expected ({rows},) float32.")
        matrix.bias = bias.data_ptr()
        kept.append(bias)
    return matrix, kept


STRIPS_SWITCH = "KB_BATCH_STRIPS"  # "0": batched steps form bf16 weights instead (no second copy)
STRIPS_SHARE_OF_FREE_MEMORY = 0.25  # the strips are built only where they take at most this share


def strip_bytes(matrix: QuantMatrix) -> int:
    """Bytes of the matrix's rows repacked into strips (model/csrc/strip_kernels.h); 0 where this CPU
    or the matrix's block types have no strip path."""
    library = _library()
    strip_format = library.kb_strip_format(ctypes.addressof(matrix))
    return int(library.kb_strip_bytes(ctypes.addressof(matrix), strip_format)) if strip_format else 0


def strips_fit(total_bytes: int, held_bytes: int = 0) -> bool:
    """Whether batched steps get strips of total_bytes: on unless KB_BATCH_STRIPS=0, int8 activations
    are on, and those still to build take at most a quarter of the memory free now (a second copy of
    a 7B Q8_0 model's blocks is 7 GB; the bundled model's 0.1 GB). held_bytes, built at an earlier
    bind and kept on the modules, are already out of the free memory: counted again, a rebind (new
    caches) would turn off strips that are there."""
    if total_bytes <= 0 or os.environ.get(STRIPS_SWITCH, "1") == "0" or not int8_activations():
        return False
    return total_bytes - held_bytes <= STRIPS_SHARE_OF_FREE_MEMORY * available_memory_bytes()


def available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def repack_strips(matrix: QuantMatrix, module: GGUFLinear | None = None) -> torch.Tensor | None:
    """The matrix's rows repacked for batched steps on AVX-512 VNNI (model/csrc/strip_kernels.h) and
    pointed at by the struct (the caller keeps the tensor alive); None where this CPU or the matrix's
    block types have no such path. Given the module, the strips are kept on it and reused while its
    blocks are the same memory (the C step is bound afresh whenever the caches change)."""
    library = _library()
    address = ctypes.addressof(matrix)
    strip_format = library.kb_strip_format(address)
    if strip_format == 0:
        return None
    strips = held_strips(matrix, module)
    if strips is None:
        strips = torch.empty(int(library.kb_strip_bytes(address, strip_format)), dtype=torch.uint8)
        if library.kb_repack_strips(address, strip_format, strips.data_ptr()) != 0:
            raise ValueError("The C step could not repack a GGUF matrix into strips.")
        if module is not None:
            key = (_blocks(matrix), strip_format)
            object.__setattr__(module, "_batch_strips", (key, strips))  # not a buffer
    matrix.strips, matrix.strip_format = strips.data_ptr(), strip_format
    return strips


def held_strips(matrix: QuantMatrix, module: GGUFLinear | None) -> torch.Tensor | None:
    """The strips an earlier bind built for this module, while its blocks are the same memory."""
    kept = getattr(module, "_batch_strips", None)
    key = (_blocks(matrix), _library().kb_strip_format(ctypes.addressof(matrix)))
    return kept[1] if kept is not None and kept[0] == key else None


def _blocks(matrix: QuantMatrix) -> tuple[int, ...]:
    return tuple(matrix.part_data[: matrix.n_parts])


def strip_matvec(module: GGUFLinear, x: torch.Tensor) -> torch.Tensor | None:
    """x [B, in] times the module's weights through the strips (one thread) -> [B, out]; None where
    this CPU or the module's block types have no strip path (tests)."""
    matrix, kept = quant_matrix(module, module.out_features, module.in_features)
    strips = repack_strips(matrix)
    if strips is None:
        return None
    x = x.float().contiguous()
    out = torch.empty(x.shape[0], module.out_features, dtype=torch.float32)
    status = _library().kb_strip_matvec(ctypes.addressof(matrix), x.data_ptr(), x.shape[0], out.data_ptr())
    del kept, strips  # alive until here: the struct points into them
    return out if status == 0 else None


def _library() -> ctypes.CDLL:
    from model.native import load_library

    library = load_library()
    library.kb_quant_matvec.restype = ctypes.c_int
    library.kb_quant_matvec.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    library.kb_quant_matvec_q8.restype = ctypes.c_int
    library.kb_quant_matvec_q8.argtypes = library.kb_quant_matvec.argtypes
    library.kb_strip_matvec.restype = ctypes.c_int
    library.kb_strip_matvec.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    library.kb_int8_activations.restype = ctypes.c_int
    library.kb_int8_activations.argtypes = [ctypes.c_int]
    library.kb_quant_dequant_rows.restype = ctypes.c_int
    library.kb_quant_dequant_rows.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_void_p,
    ]  # fmt: skip
    return library


def native_matvec(rows: torch.Tensor, type_id: int, x: torch.Tensor) -> torch.Tensor:
    """rows [N, row_bytes] uint8 blocks times x [K] by the C kernel (one thread) -> [N]."""
    out = _matvec(_library().kb_quant_matvec, rows, type_id, x)
    if out is None:
        raise ValueError(f"The C kernels have no product for GGML type {type_id}.")
    return out


def native_matvec_q8(rows: torch.Tensor, type_id: int, x: torch.Tensor) -> torch.Tensor | None:
    """As native_matvec on 8-bit activations (model/csrc/q8_kernels.h); None where this CPU or type
    has no such kernel."""
    return _matvec(_library().kb_quant_matvec_q8, rows, type_id, x)


def _matvec(kernel: Any, rows: torch.Tensor, type_id: int, x: torch.Tensor) -> torch.Tensor | None:
    rows, x = rows.contiguous(), x.float().contiguous()
    out = torch.empty(rows.shape[0], dtype=torch.float32)
    row_bytes = layout_of(type_id, "matvec").row_bytes(x.shape[0])
    if rows.shape[1] != row_bytes:
        raise ValueError(f"rows of {rows.shape[1]} bytes, expected {row_bytes}")
    status = kernel(type_id, rows.data_ptr(), rows.shape[0], x.shape[0], row_bytes, x.data_ptr(), out.data_ptr())
    return out if status == 0 else None


def int8_activations(on: bool | None = None) -> bool:
    """Whether the C step multiplies k-quant rows (Q4_K, Q5_K, Q6_K) on 8-bit activations, as
    llama.cpp does (where AVX-512 VNNI is there; the default); on=False asks for the fp32 kernels,
    whose products equal the dequantised model's to fp32 rounding. Process-wide."""
    return bool(_library().kb_int8_activations(-1 if on is None else int(on)))


def native_dequantize_rows(rows: torch.Tensor, type_id: int, cols: int) -> torch.Tensor:
    """rows [N, row_bytes] uint8 blocks -> [N, cols] float32, by the C step's dequantiser (bit for bit
    gguf's values; several times faster than the PyTorch one, which prefill would wait on)."""
    rows = rows.contiguous()
    out = torch.empty(rows.shape[0], cols, dtype=torch.float32)
    row_bytes = layout_of(type_id, "dequantise").row_bytes(cols)
    if rows.shape[1] != row_bytes:
        raise ValueError(f"rows of {rows.shape[1]} bytes, expected {row_bytes}")
    if _library().kb_quant_dequant_rows(type_id, rows.data_ptr(), rows.shape[0], cols, row_bytes, out.data_ptr()):
        raise ValueError(f"The C kernels cannot dequantise GGML type {type_id}.")
    return out
