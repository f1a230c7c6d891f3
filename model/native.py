"""The CPU decode step in C (model/csrc/decode_step.c): built at first use, called through ctypes.

Why: the one-token step is memory-bound, and through PyTorch (eager or torch.compile) it is a chain of
~10 small kernels per layer, each forking and joining the thread pool. The C step runs the whole model
in one parallel region and reads each weight once at near memory bandwidth. It serves fp32 models with
fp32 or int8 (model.quantize) linear layers on CPU; anything else stays on the PyTorch step.

The library is compiled with the machine's own C compiler (`CC`, else cc/gcc/clang) for its own
instruction set, and cached under $XDG_CACHE_HOME/kb/native (KB_NATIVE_CACHE overrides) by a hash of
the source, compiler, flags and CPU; a machine without a compiler raises NativeUnavailableError, which
callers turn into the PyTorch step.
"""

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from model.errors import ModelError
from model.gguf_quant import LAYOUTS, GGUFEmbedding, GGUFLinear
from model.native_quant import int8_activations
from model.quantize import Int8Linear

if TYPE_CHECKING:
    from model.model import Transformer
    from model.native_quant import QuantMatrix

SOURCE = Path(__file__).with_name("csrc") / "decode_step.c"
# included by SOURCE: part of the cache key
HEADERS = ("avx2_kernels.h", "quant_kernels.h", "q8_kernels.h", "strip_kernels.h")
ABI_VERSION = 5
MAX_BATCH = 64  # the C step's limit on rows (beams, or requests decoded together)
# The order of _walk(): 4 model tensors, then 12 per layer with the keys and values at 10 and 11.
_MODEL_TENSORS, _LAYER_TENSORS, _CACHE_OFFSET = 4, 12, 10
FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-pthread", "-std=gnu11", "-fno-math-errno")
# GCC's -mtune for AMD Zen (znver1: 128, znver2/3: 256 bits) sets avoid-fma-max-bits, which leaves an
# accumulation a multiply and an add instead of one fused multiply-add where the sum is carried around
# a one-block loop: the general-shape copies of a kernel (tile(), quant_row_batch()) then round
# differently from its unrolled constant-shape copies, and a row's result depends on the thread count
# (which sets the edge tiles) and on the batch. 0 contracts every a * b + c alike on every CPU.
GCC_FLAGS = ("--param=avoid-fma-max-bits=0",)


class NativeUnavailableError(ModelError):
    """The C decode step cannot be built or cannot serve this model; the PyTorch step is used."""


class LayerWeights(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in (
        "wqkv", "wo", "w13", "w2", "wqkv_scale", "wo_scale", "w13_scale", "w2_scale",
        "attn_norm", "ffn_norm", "k_cache", "v_cache", "wqkv_q", "wo_q", "w13_q", "w2_q",
    )]  # fmt: skip


class ModelWeights(ctypes.Structure):
    _fields_ = [
        *[(name, ctypes.c_int32) for name in (
            "dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "hidden", "vocab", "quantized", "cache_seq",
            "cache_batch",
        )],
        ("eps", ctypes.c_float),
        *[(name, ctypes.c_void_p) for name in ("embed", "final_norm", "head", "head_scale")],
        ("layers", ctypes.POINTER(LayerWeights)),
        ("embed_q", ctypes.c_void_p),
        ("head_q", ctypes.c_void_p),
    ]  # fmt: skip


def _cache_dir() -> Path:
    configured = os.environ.get("KB_NATIVE_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kb" / "native"


def _cpu_signature() -> bytes:
    """-march=native code runs only where it was built: the CPU's flags go into the cache key."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return os.uname().machine.encode()
    flags = next((line for line in text.splitlines() if line.startswith(("flags", "Features"))), "")
    return flags.encode()


@functools.lru_cache(maxsize=8)
def _is_gcc(compiler: str) -> bool:
    """Whether `compiler` is GCC (clang defines __GNUC__ too, and has no --param avoid-fma-max-bits)."""
    try:
        macros = subprocess.run(
            [compiler, "-dM", "-E", "-x", "c", os.devnull], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "#define __GNUC__" in macros and "__clang__" not in macros


def build_flags(target: str | None = None, compiler: str | None = None) -> list[str]:
    """FLAGS for -march=`target`; by default KB_NATIVE_MARCH's, which builds for an older CPU than
    this one (e.g. x86-64-v3: AVX2 without AVX-512) for the tests of kernels -march=native hides.
    GCC_FLAGS join them where `compiler` (by default _compiler()'s) is GCC."""
    target = target or os.environ.get("KB_NATIVE_MARCH", "native")
    flags = [f"-march={target}" if flag == "-march=native" else flag for flag in FLAGS]
    return flags + list(GCC_FLAGS) if _is_gcc(compiler or _compiler()) else flags


def _compiler() -> str:
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    raise NativeUnavailableError("No C compiler (cc, gcc or clang) on PATH for the native decode step.")


@functools.lru_cache(maxsize=1)
def load_library() -> ctypes.CDLL:
    """Build (once per source, compiler and CPU) and load the C decode step."""
    compiler = _compiler()
    flags = build_flags(compiler=compiler)
    source = b"\0".join([SOURCE.read_bytes(), *(SOURCE.with_name(name).read_bytes() for name in HEADERS)])
    key = hashlib.sha256(b"\0".join([source, compiler.encode(), " ".join(flags).encode(), _cpu_signature()]))
    target = _cache_dir() / f"decode_step-{key.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: another process may be building the same file.
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".so", delete=False) as partial:
            partial_path = Path(partial.name)
        try:
            built = subprocess.run(
                [compiler, *flags, "-o", str(partial_path), str(SOURCE), "-lm"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if built.returncode != 0:
                raise NativeUnavailableError(f"Building the native decode step failed: {built.stderr.strip()}")
            os.replace(partial_path, target)
        finally:
            partial_path.unlink(missing_ok=True)
    library = ctypes.CDLL(str(target))
    if library.kb_abi_version() != ABI_VERSION:
        raise NativeUnavailableError(f"{target} is not the decode step this code expects.")
    library.kb_batch_kernel.restype = ctypes.c_int
    library.kb_strip_format.restype = ctypes.c_int
    library.kb_strip_format.argtypes = [ctypes.c_void_p]
    library.kb_strip_bytes.restype = ctypes.c_int64
    library.kb_strip_bytes.argtypes = [ctypes.c_void_p, ctypes.c_int]
    library.kb_repack_strips.restype = ctypes.c_int
    library.kb_repack_strips.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    library.kb_decode_rows.restype = ctypes.c_int
    library.kb_decode_rows.argtypes = [
        ctypes.POINTER(ModelWeights), ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
    ]  # fmt: skip
    return library


def _is_gguf(model: "Transformer") -> bool:
    """Whether the model keeps a GGUF file's blocks (model.gguf_quant): then every linear layer and
    the embedding do, and the C step reads them through QuantMatrix structs (model.native_quant)."""
    return isinstance(model.output, GGUFLinear)


def _gguf_pointers(model: "Transformer") -> list[int]:
    """Where the model's GGUF blocks and biases live now (is_current() compares them with the binding's)."""
    return [
        tensor.data_ptr()
        for module in model.modules()
        if isinstance(module, GGUFLinear | GGUFEmbedding)
        for tensor in (module.parts() if isinstance(module, GGUFLinear) else [module.part0])
    ]


def _linear(module: nn.Module, quantized: bool, gguf: bool = False) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(weight, per-row scales or None) of a linear layer, checked to be what the C step reads; a
    GGUF layer's blocks are bound apart (model.native_quant), so it gives (None, None)."""
    if gguf != isinstance(module, GGUFLinear):
        raise NativeUnavailableError("The native decode step needs all linear layers GGUF blocks or none.")
    if gguf:
        return None, None
    if quantized != isinstance(module, Int8Linear):
        raise NativeUnavailableError("The native decode step needs all linear layers int8 or none.")
    if isinstance(module, Int8Linear):
        return module.weight, module.scales
    if not isinstance(module, nn.Linear) or module.bias is not None:
        raise NativeUnavailableError(f"The native decode step cannot run a {type(module).__name__}.")
    return module.weight, None


def _expect_shapes(pairs: list[tuple[torch.Tensor | None, tuple[int, ...]]]) -> None:
    for tensor, shape in pairs:
        if tensor is None or tuple(tensor.shape) != shape:
            found = None if tensor is None else tuple(tensor.shape)
            raise NativeUnavailableError(f"The native decode step expected a tensor of shape {shape}, got {found}.")


def _pointer(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def batch_kernel(model: "Transformer") -> str | None:
    """How batched steps multiply the model's GGUF Q4_1 and Q8_0 blocks here (None: not GGUF)."""
    if not _is_gguf(model):
        return None
    if batch_strips(model):
        return "AVX-512 VNNI on 8-bit activations (Q4_1/Q8_0 rows repacked)"
    return {1: "AMX tiles in bf16", 2: "AVX-512 BF16 dot products"}.get(load_library().kb_batch_kernel(), "fp32 FMA")


def batch_strips(model: "Transformer") -> bool:
    """Whether batched steps run on strips (model/native_quant.strips_fit: the CPU has the kernel, the
    model has Q4_1/Q8_0 matrices and their second copy fits the memory free)."""
    from model.native_quant import quant_matrix

    linear = [m for m in model.modules() if isinstance(m, GGUFLinear)]
    return _strips_wanted([(quant_matrix(m, m.out_features, m.in_features)[0], m) for m in linear])


def _strips_wanted(products: list[tuple["QuantMatrix", GGUFLinear]]) -> bool:
    """strips_fit for these matrices, the strips their modules already hold counted as paid for."""
    from model.native_quant import held_strips, strip_bytes, strips_fit

    sizes = [(strip_bytes(matrix), held_strips(matrix, module) is not None) for matrix, module in products]
    return strips_fit(sum(size for size, _ in sizes), sum(size for size, held in sizes if held))


def kquant_kernel(model: "Transformer") -> str | None:
    """How the C step multiplies the model's k-quant blocks (None: it has none)."""
    kquants = {layout.type_id for layout in LAYOUTS.values() if layout.name.endswith("_K")}
    if not any(isinstance(m, GGUFLinear) and kquants & set(m.part_types) for m in model.modules()):
        return None
    return "8-bit activations (AVX-512 VNNI)" if int8_activations() else "fp32 activations"


class NativeDecoder:
    """The C decode step bound to one Transformer's weights and KV cache.

    The binding keeps every storage it hands to C alive, so no pointer outlives its memory;
    `is_current()` says whether the model still holds that very memory (weights are replaced by
    quantisation or huge-page placement, caches by setup_caches and beam reordering)."""

    def __init__(self, model: "Transformer") -> None:
        self.check(model)
        if model.rope is None or any(block.attention.kv_cache is None for block in model.blocks()):
            raise NativeUnavailableError("Call setup_caches() before binding the native decode step.")
        self.library = load_library()
        self.model = model
        self._tensors = self._current_tensors()
        self.on_strips = False  # set by _bind where the model's products have strips
        self._bind()
        self._rope_table: tuple[torch.Tensor, torch.Tensor] | None = None

    @staticmethod
    def check(model: "Transformer") -> None:
        """Raise NativeUnavailableError unless the C step can serve this model (builds the library)."""
        if model.device.type != "cpu" or model.dtype != torch.float32:
            raise NativeUnavailableError("The native decode step runs fp32 models on CPU only.")
        quantized, gguf = isinstance(model.output, Int8Linear), _is_gguf(model)
        if gguf != isinstance(model.tok_embeddings, GGUFEmbedding):
            raise NativeUnavailableError("The native decode step needs the embedding and head both GGUF or neither.")
        for block in model.blocks():
            for linear in (block.attention.wqkv, block.attention.wo, block.feed_forward.w13, block.feed_forward.w2):
                _linear(linear, quantized, gguf)
        load_library()

    def _current_tensors(self) -> list[torch.Tensor | None]:
        # Detached views hold the storage itself: a parameter whose .data is swapped later (huge-page
        # placement) would otherwise free the memory the C step still points at.
        return [None if t is None else t.detach() for t in self._walk()]

    def _walk(self) -> Iterator[torch.Tensor | None]:
        model = self.model
        quantized, gguf = isinstance(model.output, Int8Linear), _is_gguf(model)
        yield None if gguf else model.tok_embeddings.weight
        yield model.norm.weight
        yield from _linear(model.output, quantized, gguf)
        for block in model.blocks():
            attention, ffn = block.attention, block.feed_forward
            for linear in (attention.wqkv, attention.wo, ffn.w13, ffn.w2):
                yield from _linear(linear, quantized, gguf)
            yield block.attention_norm.weight
            yield block.ffn_norm.weight
            cache = attention.kv_cache
            yield None if cache is None else cache.k
            yield None if cache is None else cache.v

    def is_current(self) -> bool:
        current = [_pointer(t) for t in self._walk()] == [_pointer(t) for t in self._tensors]
        return current and _gguf_pointers(self.model) == self._gguf_bound

    def _bind(self) -> None:
        readable = (torch.float32, torch.int8)
        for tensor in self._tensors:
            if tensor is not None and (
                tensor.device.type != "cpu" or not tensor.is_contiguous() or tensor.dtype not in readable
            ):
                raise NativeUnavailableError("The native decode step needs contiguous fp32/int8 CPU tensors.")
        args = self.model.args
        embed, final_norm, head, head_scale, *per_layer = self._tensors
        gguf = _is_gguf(self.model)
        C, D, F = args.dim, args.head_dim, args.intermediate_size
        H, K = args.n_heads, args.n_kv_heads
        V = args.vocab_size
        _expect_shapes([(final_norm, (C,))] + ([] if gguf else [(embed, (V, C)), (head, (V, C))]))
        layers = (LayerWeights * args.n_layers)()
        for i in range(args.n_layers):
            chunk = per_layer[_LAYER_TENSORS * i : _LAYER_TENSORS * (i + 1)]
            wqkv, wqkv_s, wo, wo_s, w13, w13_s, w2, w2_s, attn_norm, ffn_norm, k, v = chunk
            assert k is not None and v is not None
            # The C step trusts these sizes: a mismatch would read or write out of bounds.
            _expect_shapes([
                *([] if gguf else [(wqkv, ((H + 2 * K) * D, C)), (wo, (C, H * D)), (w13, (2 * F, C)), (w2, (C, F))]),
                (attn_norm, (C,)), (ffn_norm, (C,)), (k, (k.shape[0], K, k.shape[2], D)), (v, tuple(k.shape)),
            ])  # fmt: skip
            for weight, scale in ((wqkv, wqkv_s), (wo, wo_s), (w13, w13_s), (w2, w2_s)):  # int8 rows
                if scale is not None and weight is not None:
                    _expect_shapes([(scale, (weight.shape[0],))])
            layers[i] = LayerWeights(*map(_pointer, (
                wqkv, wo, w13, w2, wqkv_s, wo_s, w13_s, w2_s, attn_norm, ffn_norm, k, v
            )))  # fmt: skip
        first_cache = per_layer[_CACHE_OFFSET] if per_layer else None
        cache_batch, _, cache_seq, _ = first_cache.shape if first_cache is not None else (0, 0, 0, 0)
        self._layers = layers  # keeps the array alive while the struct points at it
        self._cache_batch = cache_batch
        self.weights = ModelWeights(
            args.dim, args.n_layers, args.n_heads, args.n_kv_heads, args.head_dim, args.intermediate_size,
            V, int(head_scale is not None), cache_seq, cache_batch, args.norm_eps,
            _pointer(embed), _pointer(final_norm), _pointer(head), _pointer(head_scale),
            ctypes.cast(layers, ctypes.POINTER(LayerWeights)),
        )  # fmt: skip
        self._gguf_bound = _gguf_pointers(self.model)
        if gguf:
            self._bind_gguf_blocks()

    def _bind_gguf_blocks(self) -> None:
        """Point the layers' *_q fields and the model's embed_q / head_q at QuantMatrix structs."""
        from model.native_quant import quant_matrix, repack_strips

        model, args = self.model, self.model.args
        C, D, F, V = args.dim, args.head_dim, args.intermediate_size, args.vocab_size
        qkv_rows = (args.n_heads + 2 * args.n_kv_heads) * D
        structs, modules, kept = [], [], []

        def bind(module: nn.Module, rows: int, cols: int) -> int:
            try:
                matrix, tensors = quant_matrix(module, rows, cols)  # type: ignore[arg-type]
            except ValueError as error:
                raise NativeUnavailableError(f"The native decode step cannot read {module}: {error}") from error
            structs.append(matrix)
            modules.append(module)
            kept.extend(tensors)
            return ctypes.addressof(matrix)

        for i, block in enumerate(model.blocks()):
            attention, ffn = block.attention, block.feed_forward
            self._layers[i].wqkv_q = bind(attention.wqkv, qkv_rows, C)
            self._layers[i].wo_q = bind(attention.wo, C, args.n_heads * D)
            self._layers[i].w13_q = bind(ffn.w13, 2 * F, C)
            self._layers[i].w2_q = bind(ffn.w2, C, F)
        self.weights.embed_q = bind(model.tok_embeddings, V, C)
        self.weights.head_q = bind(model.output, V, C)
        # the products' matrices get strips; the token table is only looked up
        pairs = zip(structs, modules, strict=True)
        products = [(matrix, module) for matrix, module in pairs if isinstance(module, GGUFLinear)]
        if _strips_wanted(products):
            for matrix, module in products:
                strips = repack_strips(matrix, module)
                if strips is not None:
                    kept.append(strips)
                    self.on_strips = True
        self._quant_structs, self._quant_tensors = structs, kept  # alive as long as the binding

    def rebind_caches(self) -> None:
        """Point the C step at the model's current KV cache tensors (beam search reorders them)."""
        for i, block in enumerate(self.model.blocks()):
            cache = block.attention.kv_cache
            assert cache is not None and cache.k.is_contiguous() and cache.v.is_contiguous()
            at = _MODEL_TENSORS + _LAYER_TENSORS * i + _CACHE_OFFSET
            self._tensors[at], self._tensors[at + 1] = cache.k.detach(), cache.v.detach()
            self._layers[i].k_cache, self._layers[i].v_cache = cache.k.data_ptr(), cache.v.data_ptr()

    def _cos_sin(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each row's rotary factors [B, D] for positions [B]."""
        rope = self.model.rope
        assert rope is not None
        if rope.args.rope_scaling.kind == "dynamic":  # the frequencies depend on the length so far
            pairs = [rope.cos_sin(int(pos), 1, torch.float32) for pos in positions]
            return torch.cat([cos for cos, _ in pairs]), torch.cat([sin for _, sin in pairs])
        if self._rope_table is None or self._rope_table[0].shape[0] < self.model.max_seq:
            self._rope_table = rope.cos_sin(0, self.model.max_seq, torch.float32)
        return self._rope_table[0][positions].contiguous(), self._rope_table[1][positions].contiguous()

    def supports(self, batch: int) -> bool:
        return batch <= min(MAX_BATCH, self._cache_batch)


    def step(self, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """tokens [B, 1] at position pos, row b in cache row b -> logits [B, V] (one request, or beam
        search). On strips (model/csrc/strip_kernels.h) even one row is fastest through the batch
        path (it reads 4-bit weights at memory speed), and a request's tokens are then the ones the
        batching engine gives it."""
        batch = tokens.numel()
        if not self.supports(batch):  # C writes row b of the cache for every row asked
            raise ValueError(f"{batch} rows exceed the cache's {self._cache_batch} (or the step's {MAX_BATCH}).")
        positions = torch.full((batch,), pos, dtype=torch.int32)
        return self.step_rows(tokens, positions, torch.arange(batch), row_tiles=self.on_strips)

    def step_rows(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        row_tiles: bool = True,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens [B] (or [B, 1]), row b at positions[b] in cache row slots[b] -> logits [B, V], or
        [len(logits_for), V] for just those rows; each slot's cache extended by its position.
        Several rows may share a slot at distinct positions (a prompt's tokens): every row writes its
        keys and values before any row attends. Rows are independent: a row's logits do not depend
        on which other rows share the step. row_tiles: GGUF blocks dequantised a tile of rows at a
        time for the whole batch (requests decoded together); off, each row's dot runs on the blocks
        (one request, or beams: the fastest for one row)."""
        tokens = tokens.reshape(-1).to(torch.int64).contiguous()
        positions = positions.reshape(-1).to(torch.int32).contiguous()
        slots = slots.reshape(-1).to(torch.int32).contiguous()
        batch = tokens.shape[0]
        if positions.shape[0] != batch or slots.shape[0] != batch:
            raise ValueError("tokens, positions and slots need one entry per row")
        if batch > MAX_BATCH:
            raise ValueError(f"{batch} rows exceed the C step's {MAX_BATCH}.")
        if int(positions.max()) >= self.weights.cache_seq or int(slots.max()) >= self._cache_batch:
            raise ValueError(
                f"positions {positions.tolist()} in rows {slots.tolist()} exceed the cache of"
                f" {self._cache_batch} rows of {self.weights.cache_seq}"
            )
        cos, sin = self._cos_sin(positions.long())
        wanted = torch.arange(batch, dtype=torch.int32) if logits_for is None else logits_for.to(torch.int32)
        wanted = wanted.reshape(-1).contiguous()
        logits = torch.empty((wanted.shape[0], self.weights.vocab), dtype=torch.float32)
        status = self.library.kb_decode_rows(
            ctypes.byref(self.weights), tokens.data_ptr(), batch, positions.data_ptr(), slots.data_ptr(),
            cos.data_ptr(), sin.data_ptr(), wanted.data_ptr(), wanted.shape[0], logits.data_ptr(),
            torch.get_num_threads(), int(row_tiles),
        )  # fmt: skip
        if status != 0:
            raise ValueError(
                f"The native decode step rejected tokens {tokens.tolist()} at positions {positions.tolist()}"
                f" in cache rows {slots.tolist()} (cache: {self._cache_batch} rows of {self.weights.cache_seq})."
            )
        return logits
