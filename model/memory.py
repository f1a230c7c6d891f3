"""Weights in transparent huge pages (CPU, Linux).

A decode step reads every weight once, hundreds of MB spread over 4 KB pages: each new page is a
TLB miss, and on this kind of CPU the misses cost as much as a tenth of the step. Copying the
weights into one arena that the kernel backs with 2 MB pages (madvise MADV_HUGEPAGE, honoured when
/sys/kernel/mm/transparent_hugepage/enabled is "madvise" or "always") removes most of them.
Measured on the bundled model, 2 threads, three alternating runs of each: int8 decode 62.9 -> 66.6
tok/s (+6%); fp32 unchanged (38.7 -> 38.4, within noise), so the engine places only int8 weights.
Values are copied bit for bit, so the tokens do not change. Place weights after quantising: a
tensor later replaced keeps its whole arena alive through the others.
"""

import ctypes
import ctypes.util
import logging
import sys
import weakref

import torch
from torch import nn

log = logging.getLogger(__name__)

HUGE_PAGE = 2 * 1024 * 1024
MIN_BYTES = 64 * 1024  # smaller tensors (norm weights, scales) stay where they are
_ALIGN = 64  # every tensor starts on a cache line
_MADV_HUGEPAGE = 14

_placed: list["weakref.ref[torch.Tensor]"] = []  # a tensor of each arena (WeakSet would compare tensors)


def _madvise_huge(address: int, length: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return bool(libc.madvise(ctypes.c_void_p(address), ctypes.c_size_t(length), _MADV_HUGEPAGE) == 0)


def _arena_storages() -> set[int]:
    """Storage addresses of the arenas still alive (each placed tensor keeps its arena alive)."""
    alive = [placed for placed in (ref() for ref in _placed) if placed is not None]
    _placed[:] = [weakref.ref(placed) for placed in alive]
    return {placed.untyped_storage().data_ptr() for placed in alive}


def place_in_huge_pages(module: nn.Module, skip: tuple[type[nn.Module], ...] = ()) -> int:
    """Move the module's large CPU parameters and buffers (not those of `skip` modules, e.g. a KV
    cache that is reallocated later) into one huge-page arena; returns the bytes moved, 0 where the
    system offers no huge pages. Tied tensors stay tied; tensors already in an arena stay put."""
    slots: list[tuple[nn.Module, str, torch.Tensor, bool]] = []  # (owner, name, tensor, is parameter)
    for owner in module.modules():
        if isinstance(owner, skip):
            continue
        slots += [(owner, name, p, True) for name, p in owner._parameters.items() if p is not None]
        slots += [(owner, name, b, False) for name, b in owner._buffers.items() if b is not None]
    placed = _arena_storages()
    movable = [
        (owner, name, tensor, is_param)
        for owner, name, tensor, is_param in slots
        if tensor.device.type == "cpu"
        and tensor.nbytes >= MIN_BYTES
        and tensor.is_contiguous()
        and tensor.untyped_storage().data_ptr() not in placed
    ]
    unique = {id(t): t for _, _, t, _ in movable}
    if not unique:
        return 0
    sizes = {key: -(-t.nbytes // _ALIGN) * _ALIGN for key, t in unique.items()}
    total = sum(sizes.values())
    raw = torch.empty(total + 2 * HUGE_PAGE, dtype=torch.uint8)  # room to align both ends
    start = -raw.data_ptr() % HUGE_PAGE
    # Before the first write: pages are backed huge as they are first touched.
    if not _madvise_huge(raw.data_ptr() + start, -(-total // HUGE_PAGE) * HUGE_PAGE):
        log.info("no transparent huge pages here; weights stay where they are")
        return 0
    offset = start
    seen: dict[int, torch.Tensor] = {}
    for key, tensor in unique.items():
        view = raw[offset : offset + tensor.nbytes].view(tensor.dtype).view(tensor.shape)
        view.copy_(tensor)
        seen[key] = view
        offset += sizes[key]
    for owner, name, tensor, is_param in movable:
        if is_param:
            parameter = owner._parameters[name]
            assert parameter is not None
            parameter.data = seen[id(tensor)]
            _placed.append(weakref.ref(parameter))
        else:
            owner._buffers[name] = seen[id(tensor)]
            _placed.append(weakref.ref(seen[id(tensor)]))
    return total
