"""Retrieval for the answer chain: hybrid dense + keyword search over what the user may read.

retriever = Retriever(kb, RetrievalConfig())        # or retriever_from_settings(kb, settings)
chunks = retriever.retrieve("Apple net sales Q2 2023", actor, k=8)
result = retriever.search(question, actor)          # chunks + scores + result.relevant
"""

from app.retrieval.metadata import MetadataFilter
from app.retrieval.relevance import RelevanceFeatures, RelevanceModel, is_relevant
from app.retrieval.retriever import RetrievalConfig, RetrievalResult, Retriever, config_from_settings

__all__ = [
    "MetadataFilter",
    "RelevanceFeatures",
    "RelevanceModel",
    "RetrievalConfig",
    "RetrievalResult",
    "Retriever",
    "config_from_settings",
    "is_relevant",
]
