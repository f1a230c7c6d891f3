"""The HTTP API: OpenAI-compatible chat completions with citations, models, documents.

app = create_api(service)      # the web page mounts itself into the same app later
"""

from fastapi import FastAPI

from app.service import KnowledgeService


def create_api(service: KnowledgeService) -> FastAPI:
    from app.api import chat, conversations, documents, errors
    from app.api.limits import RequestBounds

    api = FastAPI(
        title="Knowledge base API",
        version="1",
        description="Answers from the company's documents with citations. Send `Authorization: Bearer KEY`.",
    )
    api.state.service = service
    errors.install(api)
    api.add_middleware(RequestBounds, service=service)
    api.include_router(chat.router)
    api.include_router(documents.router)
    api.include_router(conversations.router)
    return api
