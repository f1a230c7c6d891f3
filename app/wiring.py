"""Build from settings: the knowledge base (store configuration, reader or writer) and the service
(knowledge base, model, retriever, chain)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.service import KnowledgeService
from app.settings import Settings, load_settings

if TYPE_CHECKING:  # loaded when the service opens, not at import
    from ingestion.service import KnowledgeBase, StoreConfig
    from model.engine import Engine


def make_retriever(kb: "KnowledgeBase", settings: Settings) -> Any:
    """Hybrid retrieval; its search also says, calibrated, whether the answer is in there at all."""
    from app.retrieval import Retriever, config_from_settings

    return Retriever(kb, config_from_settings(settings))


def store_config(settings: Settings) -> "StoreConfig":
    from ingestion.index import IndexTuning
    from ingestion.parsing import ParseLimits
    from ingestion.pipeline import IngestOptions
    from ingestion.service import StoreConfig

    return StoreConfig(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        admin_name=settings.admin_user,
        tuning=IndexTuning(hnsw_threshold=settings.index_hnsw_threshold),
        shared=settings.task_queue == "procrastinate",
        ingest=IngestOptions(
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            embed_batch=settings.embed_batch_size,
            parse_workers=settings.parse_workers,
            parse_limits=ParseLimits(timeout_s=settings.parse_timeout_s, memory_mb=settings.parse_memory_mb),
        ),
    )


@contextmanager
def open_knowledge_base(
    *,
    writer: bool,
    embedder: bool,
    align_index: bool = True,
    settings: Settings | None = None,
    lock_wait_s: float | None = None,
) -> Iterator["KnowledgeBase"]:
    """The knowledge base of the configured data folder; closed (lock released) on exit.
    A writer waits for another process's writer (up to `lock_wait_s`, default KB_WRITER_WAIT_S),
    then says 'busy'."""
    from ingestion.embedders import load_embedder
    from ingestion.service import KnowledgeBase

    settings = settings or load_settings()
    wait = settings.writer_wait_s if lock_wait_s is None else lock_wait_s
    config = replace(store_config(settings), lock_wait_s=wait)
    factory = (lambda: load_embedder(settings.embedder)) if embedder else None
    kb = KnowledgeBase.open(config, embedder=factory, writer=writer, align_index=align_index)
    try:
        yield kb
    finally:
        kb.close()


def load_engine(settings: Settings) -> "Engine":
    """The configured model on our own engine (batching as configured); loads the weights now."""
    from model.batching import BatchSettings
    from model.engine import Engine

    batching = None
    if settings.batch_slots > 0:
        batching = BatchSettings(settings.batch_slots, settings.batch_waiting, settings.prefill_chunk)
    return Engine.load(
        settings.model,
        device=settings.device,
        dtype=settings.dtype,
        quantize=settings.quantize,
        compile=settings.compile,
        native=settings.native_decode,
        threads=settings.threads,
        max_context=settings.max_context,
        batching=batching,
    )


@contextmanager
def open_service(settings: Settings | None = None, engine: Any = None) -> Iterator[KnowledgeService]:
    """The service for the configured data folder and model; the model loads here, not at import."""
    from app.adapters.llm import EngineChatModel
    from app.chain.rag import AnswerChain, ChainSettings
    from ingestion.embedders import load_embedder
    from ingestion.service import KnowledgeBase

    settings = settings or load_settings()
    if engine is None and settings.model_url:
        from app.adapters.remote_engine import RemoteEngine

        engine = RemoteEngine.connect(settings)
    elif engine is None:
        engine = load_engine(settings)
    kb = KnowledgeBase.open(store_config(settings), embedder=lambda: load_embedder(settings.embedder))
    tasks = None
    try:
        if settings.task_queue == "procrastinate":
            from app.tasks.queue import TaskQueue

            tasks = TaskQueue.connect(settings).open()
        chain = AnswerChain(
            EngineChatModel.from_engine(engine, model_name=settings.api_model_name),
            make_retriever(kb, settings),
            settings=ChainSettings(
                k=settings.chain_k,
                answer_tokens=settings.chain_answer_tokens,
                max_prompt_tokens=settings.chain_max_prompt_tokens,
                history_messages=settings.chain_history_messages,
                answer_mode=settings.resolved_answer_mode,
                min_support=settings.answer_min_support,
                min_extract_score=settings.answer_min_extract_score,
            ),
        )
        yield KnowledgeService(
            kb,
            chain,
            writer=lambda: open_knowledge_base(writer=True, embedder=True, settings=settings),
            model_name=settings.api_model_name,
            max_upload_bytes=settings.max_upload_mb * 2**20,
            max_question_chars=settings.max_question_chars,
            max_waiting_writers=settings.max_waiting_writers,
            max_waiting_questions=settings.max_waiting_questions,
            tasks=tasks,
        )
    finally:
        if tasks is not None:
            tasks.close()
        kb.close()
