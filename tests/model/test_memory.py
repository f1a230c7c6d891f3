"""Weights moved into a huge-page arena: same values, same tokens, ties kept, moved once."""

from pathlib import Path

import pytest
import torch

from model.generate import decode_tokens
from model.generation_config import GenerationConfig
from model.loader import build_transformer
from model.memory import HUGE_PAGE, place_in_huge_pages
from model.model import KVCache
from model.quantize import quantize_int8
from model.weights import read_hf_folder
from tests.model.hf_reference import save_random_llama

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def huge_pages_offered() -> bool:
    return THP.is_file() and "[never]" not in THP.read_text()


@pytest.mark.skipif(not huge_pages_offered(), reason="the kernel offers no transparent huge pages")
@pytest.mark.parametrize("int8", [False, True])
def test_placed_weights_give_the_same_tokens(tmp_path: Path, int8: bool) -> None:
    # Big enough that every matrix passes MIN_BYTES, int8 ones included (256 x 256 bytes).
    save_random_llama(
        tmp_path, seed=3, hidden_size=256, intermediate_size=512, max_position_embeddings=128, tie_word_embeddings=True
    )
    before = build_transformer(read_hf_folder(tmp_path, torch.float32), torch.device("cpu"))
    after = build_transformer(read_hf_folder(tmp_path, torch.float32), torch.device("cpu"))
    if int8:
        quantize_int8(before), quantize_int8(after)
    after.setup_caches(1, 64)
    cache = after.blocks()[0].attention.kv_cache
    moved = place_in_huge_pages(after, skip=(KVCache,))
    assert moved > 0
    embedding = after.tok_embeddings.weight
    assert embedding.data_ptr() % 64 == 0 and isinstance(embedding, torch.nn.Parameter)
    if not int8:
        assert after.output.weight is embedding  # still tied
    assert after.blocks()[0].attention.kv_cache is cache and cache is not None
    assert cache.k.untyped_storage().data_ptr() != embedding.untyped_storage().data_ptr()  # cache left alone
    arena = embedding.untyped_storage()
    assert arena.nbytes() >= moved + HUGE_PAGE and arena.data_ptr() <= embedding.data_ptr()
    for name, tensor in before.state_dict().items():
        assert torch.equal(tensor, after.state_dict()[name]), name
    assert place_in_huge_pages(after, skip=(KVCache,)) == 0  # already there
    ids = torch.randint(3, 97, (10,), generator=torch.Generator().manual_seed(0)).tolist()
    before.setup_caches(1, 64)
    cfg = GenerationConfig(max_new_tokens=16)
    assert list(decode_tokens(after, ids, cfg, frozenset())) == list(decode_tokens(before, ids, cfg, frozenset()))
