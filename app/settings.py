"""One typed settings object, read from the environment (prefix KB_) and an optional .env file."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where the database, index and uploads live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    model: str = Field(BUNDLED_MODEL, description="'bundled', a Hugging Face folder or a .gguf file.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantize: Literal["none", "int8"] = "none"
    compile: bool = Field(
        False, description="torch.compile the decode step: faster tokens, about a minute more to start on CPU."
    )
    native_decode: bool = Field(
        True, description="Decode on CPU with our C step (built with the machine's C compiler on first use)."
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for torch; default: torch's choice.")
    model_url: str | None = Field(
        None,
        description="OpenAI-compatible model servers (`kb model-server`, vLLM, llama.cpp's server), comma-separated;"
        " unset: the model runs in this process.",
    )
    model_api_key: str | None = Field(
        None, description="The key `kb model-server` requires and the app sends to KB_MODEL_URL.", repr=False
    )
    batch_slots: int = Field(
        16, ge=0, description="Answers decoded together (continuous batching); 0: one at a time."
    )
    batch_waiting: int = Field(64, ge=0, description="Answers waiting for a batch slot before 'busy, retry in N s'.")
    prefill_chunk: int = Field(256, ge=16, description="Prompt tokens prefilled per step between the others' tokens.")
    max_context: int | None = Field(None, ge=256, description="Cap on the model's context window.")
    embedder: str = "auto"
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    max_upload_mb: int = Field(50, ge=1)
    max_question_chars: int = Field(
        4000, ge=100, description="Longest question (and history message) accepted, refused before any work."
    )
    writer_wait_s: float = Field(
        600.0, ge=0, description="How long an upload waits for another process's ingest before 'busy'."
    )
    max_waiting_writers: int = Field(64, ge=1, description="Uploads queued in this process before 'busy'.")
    max_waiting_questions: int = Field(
        32, ge=1, description="Questions waiting for the model before the next asker is told 'busy, retry in N s'."
    )
    # ingestion past one machine (app.tasks): workers on a task queue, several app processes on one database
    task_queue: Literal["embedded", "procrastinate"] = Field(
        "embedded",
        description="embedded: uploads are ingested inside the app (one machine). procrastinate: queued in the "
        "PostgreSQL database for `kb worker` processes on any machine; vectors and originals live in the database.",
    )
    task_attempts: int = Field(3, ge=1, description="Tries of an ingest job when the database or disk fails.")
    task_retry_wait_s: int = Field(10, ge=0, description="Seconds before an ingest job is tried again.")
    worker_sweep_s: float = Field(
        30.0, gt=0, description="How often a worker requeues jobs of dead workers and documents left without a job."
    )
    worker_stalled_s: float = Field(30.0, gt=0, description="A worker silent this long is taken for dead.")
    # ingestion storage and pipeline
    admin_user: str = Field("admin", description="The administrator that shell commands act as.")
    chunk_tokens: int = Field(256, ge=16, description="Chunk size in embedder tokens, header included.")
    chunk_overlap_tokens: int = Field(32, ge=0)
    embed_batch_size: int = Field(64, ge=1)
    parse_workers: int = Field(2, ge=1, description="Files parsed ahead of embedding, one process each.")
    parse_timeout_s: float = Field(120.0, gt=0, description="Wall time one file may take to parse.")
    parse_memory_mb: int = Field(2048, ge=64, description="Memory one parse process may use.")
    index_hnsw_threshold: int = Field(50_000, ge=1, description="Vectors before FAISS switches to HNSW.")
    # answering chain and HTTP API (app.chain, app.api)
    chain_k: int = Field(6, ge=1, description="Chunks retrieved per question.")
    chain_answer_tokens: int = Field(384, ge=16, description="Tokens reserved for the answer.")
    chain_max_prompt_tokens: int | None = Field(
        2048, ge=256, description="Cap on the prompt below the context window (prefill time on CPU); None: no cap."
    )
    chain_history_messages: int = Field(6, ge=0, description="Conversation messages the follow-up condenser reads.")
    answer_mode: Literal["auto", "extractive", "generative"] = Field(
        "auto",
        description="extractive: quote the row or sentence that answers, the model only when none does; "
        "generative: the model answers, every sentence checked. auto: extractive for the bundled model.",
    )
    answer_min_support: float = Field(
        0.5, ge=0, le=1, description="Share of a generated sentence's words that its cited passage must carry."
    )
    answer_min_extract_score: float = Field(
        0.5, ge=0, le=1.5, description="How well a quoted row or sentence must answer to be the answer."
    )
    api_model_name: str = Field("kb", description="Model id the OpenAI-compatible API reports and accepts.")
    # retrieval: weighted reciprocal rank fusion of dense and BM25, metadata boost (app.retrieval).
    # Measured (doc recall@5): sec-10-q RRF 1:1 0.682 -> +metadata 1.000; FinanceBench subset 0.774 ->
    # 0.936; CMRC2018 subset 0.994 -> 0.997; 1:0.5 never better. Details: RetrievalConfig's docstring.
    retrieval_dense_weight: float = Field(1.0, ge=0)
    retrieval_keyword_weight: float = Field(1.0, ge=0)
    retrieval_rrf_k: float = Field(60.0, gt=0)
    retrieval_candidates_factor: int = Field(4, ge=1, description="Each search fetches k times this for fusion.")
    retrieval_metadata_boost: float = Field(0.02, ge=0, description="Fused-score bonus for the named filing.")
    retrieval_scope_weight: float = Field(1.0, ge=0, description="Weight of searches inside the named filing.")
    retrieval_statement_weight: float = Field(
        5.0, ge=0, description="Weight of the financial-statement pages a question asks about (0: off)."
    )
    eval_k: int = Field(10, ge=1, description="Chunks retrieved per eval question (recall@1/5/10).")

    @property
    def resolved_answer_mode(self) -> str:
        if self.answer_mode == "auto":
            return "extractive" if self.model == BUNDLED_MODEL else "generative"
        return self.answer_mode

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kb.sqlite3').resolve()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings now (never at import time); keyword overrides win over the environment."""
    return Settings(**overrides)  # type: ignore[arg-type]
