"""Our Retriever as a LangChain BaseRetriever for one user: LCEL chains call `.invoke(question)`
and get Documents; the permission filter and fusion stay ours (app.retrieval)."""

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from app.retrieval import MetadataFilter, Retriever
from app.types import RetrievedChunk
from store.records import UserInfo


def to_document(retrieved: RetrievedChunk) -> Document:
    chunk = retrieved.chunk
    return Document(
        page_content=chunk.text,
        id=str(chunk.id),
        metadata={
            "chunk_id": chunk.id,
            "document": chunk.file_name,
            "document_id": chunk.document_id,
            "page_start": chunk.page_start,
            "page_end": chunk.page_end,
            "header": chunk.header,
            "score": retrieved.score,
            "dense_score": retrieved.dense_score,
            "keyword_score": retrieved.keyword_score,
        },
    )


class KnowledgeBaseRetriever(BaseRetriever):
    """Bound to one actor: a retriever instance never serves two users."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    actor: UserInfo
    k: int = 8
    filters: MetadataFilter | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        return [to_document(r) for r in self.retriever.retrieve(query, self.actor, k, self.filters)]
