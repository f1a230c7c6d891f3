"""Files -> ParsedDocument: loaders per format, run in a separate process with limits.

Public entry points: SUPPORTED_SUFFIXES, is_supported, ParseLimits, parse_file.
"""

from ingestion.parsing.formats import SUPPORTED_SUFFIXES, is_supported
from ingestion.parsing.limits import ParseLimits
from ingestion.parsing.sandbox import parse_file

__all__ = ["SUPPORTED_SUFFIXES", "ParseLimits", "is_supported", "parse_file"]
