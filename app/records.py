"""The plain records the service hands out, re-exported so that ui/ needs nothing below app/."""

from ingestion.file_progress import FileProgress, Rates
from ingestion.outcomes import FileResult, Outcome, ProgressEvent
from ingestion.parsing.formats import MIME_BY_SUFFIX, SUPPORTED_SUFFIXES, is_supported
from store.conversation_records import ConversationInfo, MessageInfo
from store.records import DocumentInfo, GroupInfo, UserInfo

__all__ = [
    "MIME_BY_SUFFIX",
    "SUPPORTED_SUFFIXES",
    "ConversationInfo",
    "DocumentInfo",
    "FileProgress",
    "FileResult",
    "GroupInfo",
    "MessageInfo",
    "Outcome",
    "ProgressEvent",
    "Rates",
    "UserInfo",
    "is_supported",
]
