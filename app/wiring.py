"""Build the service from settings: knowledge base (reader), model, retriever, chain."""

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.service import KnowledgeService
from app.settings import Settings, load_settings

log = logging.getLogger(__name__)


def make_retriever(kb: Any, settings: Settings) -> tuple[Any, Any]:
    """(retriever, relevance check): the fused retriever of app.retrieval and its calibrated
    relevance helper; dense search and our overlap gate (logged) while they are not there."""
    from app.chain.relevance import OverlapOrSimilarity

    retrieval = importlib.import_module("app.retrieval")
    retriever = getattr(retrieval, "Retriever", None)
    if retriever is None:
        from app.chain.dense import DenseRetriever

        log.warning("app.retrieval.Retriever is not available; answering from dense search only.")
        return DenseRetriever(kb), OverlapOrSimilarity(settings.chain_min_coverage, settings.chain_min_dense)
    return retriever(kb, retrieval.config_from_settings(settings)), retrieval.is_relevant


@contextmanager
def open_service(settings: Settings | None = None, engine: Any = None) -> Iterator[KnowledgeService]:
    """The service for the configured data folder and model; the model loads here, not at import."""
    from app.adapters.llm import EngineChatModel
    from app.chain.rag import AnswerChain, ChainSettings
    from app.cli.ingest import open_knowledge_base, store_config
    from ingestion.embedders import load_embedder
    from ingestion.service import KnowledgeBase

    settings = settings or load_settings()
    if engine is None:
        from model.engine import Engine

        engine = Engine.load(
            settings.model,
            device=settings.device,
            dtype=settings.dtype,
            quantize=settings.quantize,
            compile=settings.compile,
            threads=settings.threads,
            max_context=settings.max_context,
        )
    kb = KnowledgeBase.open(store_config(settings), embedder=lambda: load_embedder(settings.embedder))
    try:
        chain = AnswerChain(
            EngineChatModel.from_engine(engine, model_name=settings.api_model_name),
            *make_retriever(kb, settings),
            ChainSettings(
                k=settings.chain_k,
                answer_tokens=settings.chain_answer_tokens,
                max_prompt_tokens=settings.chain_max_prompt_tokens,
                history_messages=settings.chain_history_messages,
            ),
        )
        yield KnowledgeService(
            kb,
            chain,
            writer=lambda: open_knowledge_base(writer=True, embedder=True, settings=settings),
            model_name=settings.api_model_name,
            max_upload_bytes=settings.max_upload_mb * 2**20,
        )
    finally:
        kb.close()
