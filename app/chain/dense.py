"""Dense-only retrieval over KnowledgeBase.search (permission filter inside FAISS): what answers
use until the fused retriever (app.retrieval.Retriever) is available."""

from app.types import RetrievedChunk
from ingestion.service import KnowledgeBase
from ingestion.store.records import UserInfo


class DenseRetriever:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def retrieve(self, question: str, actor: UserInfo, k: int = 8, filters: object = None) -> list[RetrievedChunk]:
        return [RetrievedChunk(h.chunk, h.score, dense_score=h.score) for h in self.kb.search(question, actor, k)]
