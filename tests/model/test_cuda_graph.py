"""When a captured CUDA graph of the decode step goes stale (model.cuda_graph.binding_key): the graph
bakes in the addresses of the weights and caches, so a new cache or new weights need a new capture,
while beam search's in-place reordering keeps it. (The capture itself needs a GPU:
benchmarks/cuda_check.sh.)"""

from pathlib import Path

import torch

from model.cuda_graph import binding_key
from model.quantize import quantize_int8
from tests.model.test_native import ODD, build


def test_a_graph_is_bound_to_the_caches_and_weights_the_model_holds(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=5, **ODD)
    model.setup_caches(2, 32)
    key = binding_key(model)
    model.setup_caches(2, 32)  # kept: same size
    assert binding_key(model) == key
    model.reorder_cache(torch.tensor([1, 0]))  # beam search reorders in place
    assert binding_key(model) == key
    model.setup_caches(4, 32)
    assert binding_key(model) != key
    key = binding_key(model)
    quantize_int8(model)
    assert binding_key(model) != key
