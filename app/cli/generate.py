"""`kb generate PROMPT`: stream from the bare model, wrapped in its chat template unless --raw."""

import sys
from typing import Annotated

import typer

from app.settings import load_settings


def register(cli: typer.Typer) -> None:
    @cli.command("generate")
    def generate(
        prompt: Annotated[str, typer.Argument(help="The prompt; '-' reads it from standard input.")],
        raw: Annotated[bool, typer.Option(help="Send the prompt as is, without the chat template.")] = False,
        system: Annotated[str | None, typer.Option(help="System message for the chat template.")] = None,
        max_new_tokens: Annotated[int, typer.Option(min=1)] = 256,
        temperature: Annotated[float, typer.Option(min=0.0, help="0 = greedy.")] = 0.0,
        top_k: Annotated[int, typer.Option(min=0, help="0 = off.")] = 0,
        top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="1.0 = off.")] = 1.0,
        repetition_penalty: Annotated[float, typer.Option(min=0.0, help="1.0 = off.")] = 1.0,
        beams: Annotated[int, typer.Option(min=1, help="Beam search with this many beams.")] = 1,
        seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
        stop: Annotated[list[str] | None, typer.Option(help="Stop string (repeatable).")] = None,
        model: Annotated[str | None, typer.Option(help="Model folder or .gguf (default: KB_MODEL).")] = None,
        device: Annotated[str | None, typer.Option(help="auto, cpu or cuda (default: KB_DEVICE).")] = None,
        dtype: Annotated[str | None, typer.Option(help="auto, float32, bfloat16, float16.")] = None,
        quantize: Annotated[str | None, typer.Option(help="none or int8 (default: KB_QUANTIZE).")] = None,
        compile: Annotated[
            bool | None, typer.Option("--compile/--no-compile", help="torch.compile the decode step (KB_COMPILE).")
        ] = None,
        native: Annotated[
            bool | None,
            typer.Option("--native/--no-native", help="Our C decode step on CPU (KB_NATIVE_DECODE)."),
        ] = None,
        stats: Annotated[bool, typer.Option(help="Print timing to standard error.")] = False,
    ) -> None:
        """Generate text from the bare model (no knowledge base), streamed as it is produced."""
        from model.chat_template import ChatMessage
        from model.engine import Engine
        from model.generation_config import GenerationConfig

        settings = load_settings()
        text = sys.stdin.read() if prompt == "-" else prompt
        engine = Engine.load(
            model or settings.model,
            device=device or settings.device,
            dtype=dtype or settings.dtype,
            quantize=quantize or settings.quantize,
            threads=settings.threads,
            max_context=settings.max_context,
            compile=settings.compile if compile is None else compile,
            native=settings.native_decode if native is None else native,
        )
        cfg = GenerationConfig(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            num_beams=beams,
            seed=seed,
            stop_strings=tuple(stop or ()),
        )
        if raw:
            ids = engine.raw_prompt_ids(text)
        else:
            messages = [ChatMessage("system", system)] if system else []
            ids = engine.chat_prompt_ids([*messages, ChatMessage("user", text)])
        stream = engine.stream(ids, cfg)
        for piece in stream:
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        if stats:
            r = stream.result
            typer.echo(
                f"{r.prompt_tokens} prompt tokens, {len(r.token_ids)} generated ({r.finish_reason}); "
                f"first token {r.ttft_s * 1000:.0f} ms, {r.decode_tokens_per_s:.1f} tok/s",
                err=True,
            )
