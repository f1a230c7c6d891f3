"""POST /v1/chat/completions (streaming as SSE or one object) and GET /v1/models."""

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.auth import Service, User
from app.api.errors import error_body, status_of
from app.api.schemas import ChatChoice, ChatCompletion, ChatCompletionRequest, CitationOut, ModelCard, ModelList
from app.errors import KBError, user_message
from app.service import checks_dict
from app.types import Answer

router = APIRouter(prefix="/v1", tags=["chat"])


def _turn(request: ChatCompletionRequest) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last user message) and the history before it (system messages ignored:
    the knowledge base's own system prompt governs answers)."""
    turns = [(m.role, m.text()) for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise KBError("The last message must be the user's question.")
    return turns[-1][1], turns[:-1]


def _usage(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def _finish(answer: Answer) -> Literal["stop", "length"]:
    return "length" if answer.finish_reason == "length" else "stop"


def _citations(answer: Answer) -> list[dict[str, object]]:
    return [CitationOut(**asdict(c)).model_dump() for c in answer.citations]


@router.get("/models", response_model=ModelList)
def models(service: Service, _: User) -> ModelList:
    return ModelList(data=[ModelCard(id=service.model_name)])


@router.post(
    "/chat/completions", response_model=ChatCompletion, responses={200: {"content": {"text/event-stream": {}}}}
)
def chat_completions(request: ChatCompletionRequest, service: Service, user: User) -> object:
    question, history = _turn(request)
    for text in (question, *(content for _, content in history)):
        service.check_length(text)  # before the stream starts: a clear 400, no work done
    service.asking.check()  # a full line is a 503 with Retry-After, not an error inside a stream
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    save = request.conversation_id is not None
    items = service.ask_stream(question, user, request.conversation_id, history, save=save)
    if request.stream:
        return StreamingResponse(
            _sse(items, completion_id, created, service.model_name), media_type="text/event-stream"
        )
    answer = next(item for item in items if isinstance(item, Answer))
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=service.model_name,
        choices=[ChatChoice(message={"role": "assistant", "content": answer.text}, finish_reason=_finish(answer))],
        usage=_usage(answer),
        citations=[CitationOut(**asdict(c)) for c in answer.citations],
        found=answer.found,
        conversation_id=answer.conversation_id,
        timings_ms=answer.timings_ms,
        **checks_dict(answer),  # the verdict the page shows: outcome, method, checked
    )


def _sse(items: Iterator[str | Answer], completion_id: str, created: int, model: str) -> Iterator[str]:
    def event(delta: dict[str, str], finish: str | None = None, **extra: object) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    try:
        for item in items:
            if isinstance(item, Answer):
                # The checked text (what survived checking) rides along with the citations and the verdict.
                yield event(
                    {},
                    _finish(item),
                    usage=_usage(item),
                    citations=_citations(item),
                    found=item.found,
                    answer=item.text,
                    conversation_id=item.conversation_id,
                    timings_ms=item.timings_ms,
                    **checks_dict(item),
                )
            else:
                yield event({"content": item})
    except Exception as error:  # headers are sent: report in the stream, as OpenAI does
        status, kind = status_of(error)
        yield f"data: {json.dumps(error_body(user_message(error), kind, status))}\n\n"
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # client gone: stop the model
    yield "data: [DONE]\n\n"
