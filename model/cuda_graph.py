"""One decode step captured as a CUDA graph and replayed (model.decode_step.StaticStep on a GPU).

We capture with torch.cuda.graph ourselves instead of torch.compile's mode="reduce-overhead": its
CUDA-graph trees keep their state in the thread that first used them (pytorch#123177, fixed
after torch 2.11), so the batching scheduler's thread failed; and each of its replays pays
Dynamo's guard checks over every weight of the model, where ours is one graph launch. The
forward inside may be torch.compile'd (Inductor kernels), compiled by the warm-up runs before
capture.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch.cuda import _POOL_HANDLE

StaticForward = Callable[..., torch.Tensor]


@dataclass
class CapturedStep:
    """A graph of forward(tokens [B, 1], positions [B], *inputs) -> logits [B, V] on fixed buffers
    (inputs: what else the forward reads, held here so that their memory stays the graph's).

    key says which weights and caches (their addresses) the graph reads and writes: a graph is
    only valid while the model still holds those tensors."""

    key: tuple[int, ...]
    graph: torch.cuda.CUDAGraph
    tokens: torch.Tensor
    positions: torch.Tensor
    inputs: tuple[torch.Tensor, ...]
    logits: torch.Tensor

    @classmethod
    def capture(
        cls,
        forward: StaticForward,
        key: tuple[int, ...],
        rows: int,
        dummy_position: int,
        inputs: tuple[torch.Tensor, ...],
        pool: "_POOL_HANDLE | None" = None,
    ) -> "CapturedStep":
        """Warm-up runs on a side stream (they compile, and allocate the forward's workspaces),
        then the capture. Every row computes the dummy token at dummy_position, which a request
        overwrites before it reads it (StaticStep's rule)."""
        device = inputs[0].device
        tokens = torch.zeros((rows, 1), dtype=torch.long, device=device)
        positions = torch.full((rows,), dummy_position, dtype=torch.long, device=device)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(2):
                forward(tokens, positions, *inputs)
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local"):
            logits = forward(tokens, positions, *inputs)
        return cls(key, graph, tokens, positions, inputs, logits)

    def run(
        self, tokens: torch.Tensor, positions: torch.Tensor, slots: torch.Tensor, dummy_position: int
    ) -> torch.Tensor:
        """Rows `slots` take tokens at positions; the others the dummy. -> logits [len(slots), V]
        (a copy: the graph's output buffer is overwritten by the next replay)."""
        place_rows(self.tokens, self.positions, tokens, positions, slots, dummy_position)
        self.graph.replay()
        return self.logits[slots]


def place_rows(
    every_token: torch.Tensor,
    every_position: torch.Tensor,
    tokens: torch.Tensor,
    positions: torch.Tensor,
    slots: torch.Tensor,
    dummy_position: int,
) -> None:
    """A static step's inputs for every cache row ([B, 1], [B]): rows `slots` get their token at
    their position, the others the dummy token 0 at dummy_position."""
    every_token.zero_()
    every_position.fill_(dummy_position)
    every_token[slots, 0] = tokens
    every_position[slots] = positions


def binding_key(model: torch.nn.Module) -> tuple[int, ...]:
    """Addresses of every weight and cache the model holds: a captured graph reads these."""
    return tuple(t.data_ptr() for t in (*model.parameters(), *model.buffers()))
