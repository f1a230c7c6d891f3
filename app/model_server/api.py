"""The model server's routes: /v1/completions, /v1/chat/completions (streamed as SSE or one
object), /v1/models and /health, every /v1 route behind the server's key.

Generation runs on the engine's batching scheduler, so concurrent requests are decoded together; a
full line answers 503 with Retry-After before any byte of the stream; a client that goes away
(closed stream) cancels its request, which frees its batch slot at the next step.
"""

import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from app.chain.sanitize import neutralise
from app.model_server.schemas import ChatRequest, CompletionRequest, Sampling
from model.batching import EngineBusyError
from model.chat_template import ChatMessage
from model.engine import Engine, GenerationResult, GenerationStream
from model.errors import ModelError
from model.generation_config import GenerationConfig

DEFAULT_MAX_TOKENS = 256
STREAM_THREADS = 256  # each open stream waits for its next token on a worker thread


def _error(message: str, kind: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


def _config(body: Sampling, prompt_tokens: int, window: int) -> GenerationConfig:
    room = max(1, window - prompt_tokens)
    return GenerationConfig(
        max_new_tokens=min(body.max_tokens or DEFAULT_MAX_TOKENS, room),
        temperature=body.temperature,
        top_k=body.top_k,
        top_p=body.top_p,
        repetition_penalty=body.repetition_penalty,
        stop_strings=body.stop_strings(),
        stop_token_ids=tuple(body.stop_token_ids),
        ignore_eos=body.ignore_eos,
        seed=body.seed,
    )


def _usage(result: GenerationResult) -> dict[str, int]:
    completion = len(result.token_ids)
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": result.prompt_tokens + completion,
    }


def _finish(result: GenerationResult) -> str:
    return "length" if result.finish_reason == "length" else "stop"


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = STREAM_THREADS
    yield


def create_model_server(engine: Engine, api_key: str) -> FastAPI:
    if not api_key:
        raise ValueError("The model server needs an API key.")
    api = FastAPI(title="kb model server", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan)
    bearer = HTTPBearer(auto_error=False)

    def signed(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(401, "Missing or invalid API key.", headers={"WWW-Authenticate": "Bearer"})

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        kind = "authentication_error" if error.status_code == 401 else "invalid_request_error"
        return _error(str(error.detail), kind, error.status_code, dict(error.headers or {}))

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return _error(f"Invalid request: {where}: {first.get('msg', 'invalid value')}.", "invalid_request_error", 422)

    @api.exception_handler(EngineBusyError)
    async def busy(_: Request, error: EngineBusyError) -> JSONResponse:
        return _error(str(error), "server_busy", 503, {"Retry-After": str(error.retry_after_s)})

    @api.exception_handler(ModelError)
    async def refused(_: Request, error: ModelError) -> JSONResponse:
        return _error(str(error), "invalid_request_error", 400)

    @api.get("/health")
    def health() -> dict[str, str]:
        """For load balancers: says only that the process serves (no model, no load)."""
        return {"status": "ok"}

    @api.get("/v1/models", dependencies=[Depends(signed)])
    def models() -> dict[str, Any]:
        card = {"id": engine.name, "object": "model", "owned_by": "kb", "max_model_len": engine.context_window}
        return {"object": "list", "data": [card]}

    @api.post("/v1/completions", dependencies=[Depends(signed)], response_model=None)
    def completions(body: CompletionRequest) -> Any:
        ids = list(body.prompt) if isinstance(body.prompt, list) else engine.raw_prompt_ids(body.prompt)
        vocab = engine.model.args.vocab_size
        if any(not 0 <= token < vocab for token in ids):
            return _error(f"Token ids must lie in 0..{vocab - 1}.", "invalid_request_error", 400)
        return _respond(ids, body, "text_completion")

    @api.post("/v1/chat/completions", dependencies=[Depends(signed)], response_model=None)
    def chat_completions(body: ChatRequest) -> Any:
        specials = _specials(engine)
        messages = [ChatMessage(m.role, neutralise(m.content, specials)) for m in body.messages]
        return _respond(engine.chat_prompt_ids(messages), body, "chat.completion")

    def _respond(ids: list[int], body: Sampling, kind: str) -> Any:
        if not ids:
            return _error("The prompt is empty.", "invalid_request_error", 400)
        cfg = _config(body, len(ids), engine.context_window)
        stream = engine.stream(ids, cfg)  # busy or too long: refused here, before any byte is sent
        created, rid = int(time.time()), f"{'chatcmpl' if kind.startswith('chat') else 'cmpl'}-{uuid.uuid4().hex}"
        if body.stream:
            events = _events(stream, kind, rid, created, engine.name)
            return StreamingResponse(events, media_type="text/event-stream")
        try:
            text = "".join(stream)
        finally:
            stream.close()
        choice: dict[str, Any] = {"index": 0, "finish_reason": _finish(stream.result), "logprobs": None}
        if kind == "chat.completion":
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        return {"id": rid, "object": kind, "created": created, "model": engine.name, "choices": [choice],
                "usage": _usage(stream.result)}  # fmt: skip

    return api


def _specials(engine: Engine) -> tuple[str, ...]:
    backend = engine.tokenizer.backend
    return tuple(t.content for t in backend.get_added_tokens_decoder().values() if t.special and t.content)


async def _events(stream: GenerationStream, kind: str, rid: str, created: int, model: str) -> AsyncIterator[str]:
    """SSE chunks as OpenAI sends them; the stream is closed (its batch slot freed) however this
    ends: finished, failed, or cancelled because the client went away."""
    chunk_kind = "chat.completion.chunk" if kind == "chat.completion" else "text_completion"

    def event(delta: dict[str, str], finish: str | None = None, usage: dict[str, int] | None = None) -> str:
        if chunk_kind == "chat.completion.chunk":
            choice: dict[str, Any] = {"index": 0, "delta": delta}
        else:
            choice = {"index": 0, "text": delta.get("content", "")}
        choice.update(finish_reason=finish, logprobs=None)
        body: dict[str, Any] = {"id": rid, "object": chunk_kind, "created": created, "model": model,
                                "choices": [choice]}  # fmt: skip
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        if chunk_kind == "chat.completion.chunk":
            yield event({"role": "assistant", "content": ""})
        while True:
            # One thread hop for whatever is ready: at 16 streams of 20+ tokens/s each, a hop per
            # token would cost the decode a good part of a core.
            pieces = await anyio.to_thread.run_sync(stream.available)
            if not pieces:
                break
            yield "".join(event({"content": piece}) for piece in pieces)
        yield event({}, _finish(stream.result), _usage(stream.result))
    except ModelError as error:  # headers are sent: report in the stream, as OpenAI does
        yield f"data: {json.dumps({'error': {'message': str(error), 'type': 'server_error'}})}\n\n"
    finally:
        stream.close()
    yield "data: [DONE]\n\n"
