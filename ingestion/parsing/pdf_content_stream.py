"""A faster reader of PDF content streams for pypdf's text extraction, with the same result.

pypdf tokenizes a page's content stream one byte at a time through a file object; on the SEC
filings that is half of the parse time (Microsoft's 10-Qs: 7-10 s each). This reader finds the
common tokens (operators, numbers, names, strings without escapes, hex strings, arrays of
those) with one regular expression over the bytes and builds the very objects pypdf builds.
Every other token (dictionaries, escaped strings, inline images, anything odd) is handed to
pypdf's own reader at the same position with the same budget, so pypdf's results, errors and
safety limits stay as they were. It is installed only on the pypdf version it was checked
against; tests compare both readers on pages of real filings, on hand-written streams with the
rare tokens, and on damaged streams.
"""

import binascii
import re
from typing import IO, Any

import pypdf
from pypdf._utils import WHITESPACES_AS_BYTES, WHITESPACES_AS_REGEXP, read_until_regex
from pypdf.errors import LimitReachedError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    ContentStream,
    FloatObject,
    NameObject,
    NumberObject,
    read_object,
)
from pypdf.generic._image_inline import read_inline_image
from pypdf.generic._utils import StreamParsingBudget, create_string_object

CHECKED_PYPDF_VERSION = "7.1.1"

# pypdf's whitespace between top-level tokens (not \v); inside arrays its isspace() adds \v.
_SPACE = WHITESPACES_AS_REGEXP
_NOT_SPACE = b"[^" + WHITESPACES_AS_BYTES + b"]"
_ARRAY_SPACE = rb"[\x00\t\n\x0b\f\r ]"
# Operators and names end where pypdf's NameObject.delimiter_pattern matches; short ones never
# reach its length limits (128 and 4,096 bytes), longer ones go to pypdf.
_END = rb"(?=[\s()<>\[\]{}/%]|\Z)"
# A number is a run of "+,-.0-9" (pypdf's NumberPattern is the range "+-.", which holds the
# comma) that starts with a digit, sign or dot; 20 bytes or more go to pypdf's slower path.
_NUMBER = rb"[0-9+\-.][0-9+,\-.]{0,18}(?![0-9+,\-.])"
_HEX_DIGITS = b"[0-9A-Fa-f" + WHITESPACES_AS_BYTES + b"]*"  # between "<" and ">"
_LITERAL_TEXT = rb"(?:[^()\\]|\([^()\\]*\))*"  # between "(" and ")": no escapes, nested at most once
_TOKEN = re.compile(
    _SPACE + rb"*(?:"
    rb"(?P<operator>[A-Za-z'\"][^\s()<>\[\]{}/%]{0,40}" + _END + rb")"
    rb"|(?P<number>" + _NUMBER + rb")"
    rb"|<(?P<hex>" + _HEX_DIGITS + rb")>"
    rb"|\((?P<literal>" + _LITERAL_TEXT + rb")\)"
    rb"|\[(?P<array>(?:" + _ARRAY_SPACE + rb"*(?:" + _NUMBER + rb"|<" + _HEX_DIGITS + rb">|\(" + _LITERAL_TEXT
    + rb"\)))*)" + _ARRAY_SPACE + rb"*\]"
    rb"|(?P<name>/[^\x00-\x20\x7f-\xff()<>\[\]{}/%#]{0,100}" + _END + rb")"
    rb"|(?P<comment>%[^\r\n]*(?:\r|\n|\Z))"
    rb"|(?P<other>" + _NOT_SPACE + rb")"
    rb")"
)
# One element of an array that _TOKEN matched whole.
_ELEMENT = re.compile(
    _ARRAY_SPACE + rb"*(?:(?P<number>" + _NUMBER + rb")"
    rb"|<(?P<hex>" + _HEX_DIGITS + rb")>"
    rb"|\((?P<literal>" + _LITERAL_TEXT + rb")\))"
)
_OPERATOR_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'\"")
# pypdf reads "1 0 R" as an indirect reference, which a content stream cannot hold (it fails);
# a stream with anything like it is left to pypdf whole.
_REFERENCE_LIKE = re.compile(rb"\d\s+\d+\s+R[^a-zA-Z]")

# pypdf's own reader, taken when this module is first imported, so before install() can replace it.
PYPDF_PARSE = ContentStream._parse_content_stream


def install() -> bool:
    """Makes pypdf's ContentStream use this reader; False (and nothing changed) on another pypdf."""
    if pypdf.__version__ != CHECKED_PYPDF_VERSION:
        return False
    ContentStream._parse_content_stream = parse_content_stream  # type: ignore[method-assign]
    return True


def parse_content_stream(self: ContentStream, stream: IO[Any]) -> None:
    """pypdf's ContentStream._parse_content_stream, token for token. The number, hex and literal
    cases are written out here and in _array, not shared through a call: this loop runs once per
    token (1.5 million on one 80-page 10-Q)."""
    stream.seek(0)
    data = stream.read()
    if _REFERENCE_LIKE.search(data):
        PYPDF_PARSE(self, stream)
        return
    budget = StreamParsingBudget(remaining_budget=pypdf.get_configuration().stream_parsing_work_maximum_count)
    operations = self._operations
    encoding = self.forced_encoding
    operands: list[Any] = []
    position = 0
    while True:
        resume_at = None
        for token in _TOKEN.finditer(data, position):
            kind = token.lastgroup or ""
            if kind == "operator":
                operator = token.group(kind)
            elif kind == "other" and data[token.start(kind)] in _OPERATOR_START:
                stream.seek(token.start(kind))  # too long for the pattern: pypdf's limit decides
                operator = _read_operator(self, stream)
                resume_at = stream.tell()
            elif kind == "comment":
                continue
            else:
                budget.remaining_budget -= 1
                if budget.remaining_budget < 0:
                    raise LimitReachedError("Reached maximum number of tokens per stream.")
                if kind == "number":
                    number = token.group(kind)
                    operands.append(FloatObject(number) if b"." in number else NumberObject(number))
                elif kind == "hex":
                    operands.append(_string(_hex_bytes(token.group(kind)), encoding))
                elif kind == "literal":
                    operands.append(_string(token.group(kind), encoding))
                elif kind == "name":
                    operands.append(NameObject(token.group(kind).decode("ascii")))
                elif kind == "array":
                    operands.append(_array(data, token.start(kind), token.end(kind), encoding, budget))
                else:  # pypdf's reader for this one token, then this one again after it
                    stream.seek(token.start(kind))
                    operands.append(read_object(stream, None, encoding, parsing_budget=budget))
                    resume_at = stream.tell()
                    break
                continue
            if operator == b"BI":  # an inline image: pypdf's reader from just after "BI"
                resume_at = _inline_image(self, stream, token.end(), operands, budget)
                break
            budget.remaining_budget -= 1
            if budget.remaining_budget < 0:
                raise LimitReachedError("Reached maximum number of tokens per stream.")
            operations.append((operands, operator))
            operands = []
            if resume_at is not None:
                break
        if resume_at is None:
            return
        position = resume_at


def _read_operator(self: ContentStream, stream: IO[Any]) -> bytes:
    return read_until_regex(stream=stream, regex=NameObject.delimiter_pattern, length=self._OPERATOR_LENGTH_LIMIT)


def _inline_image(
    self: ContentStream, stream: IO[Any], after_operator: int, operands: list[Any], budget: StreamParsingBudget
) -> int:
    assert operands == []  # as pypdf: an inline image takes no operands
    self._check_limits(parsing_budget=budget, token_decrement=2)
    stream.seek(after_operator)
    image = read_inline_image(content_stream=self, stream=stream, parsing_budget=budget)
    self._operations.append((image, b"INLINE IMAGE"))
    return stream.tell()


def _array(data: bytes, start: int, end: int, encoding: Any, budget: StreamParsingBudget) -> ArrayObject:
    """The elements of an array of numbers and strings, counted as pypdf counts them."""
    array = ArrayObject()
    remaining = pypdf.get_configuration().array_maximum_element_count
    for element in _ELEMENT.finditer(data, start, end):
        remaining = ArrayObject._check_limits(remaining_elements=remaining, parsing_budget=budget)
        kind = element.lastgroup or ""
        if kind == "number":
            number = element.group(kind)
            array.append(FloatObject(number) if b"." in number else NumberObject(number))
        elif kind == "hex":
            array.append(_string(_hex_bytes(element.group(kind)), encoding))
        else:
            array.append(_string(element.group(kind), encoding))
    return array


def _hex_bytes(digits: bytes) -> bytes:
    digits = digits.translate(None, WHITESPACES_AS_BYTES)
    if len(digits) % 2:
        digits += b"0"  # pypdf pads an odd last digit
    return binascii.a2b_hex(digits)


def _string(value: bytes, encoding: Any) -> Any:
    if encoding == "bytes":  # text extraction's case, what create_string_object does for it
        return ByteStringObject(value)
    return create_string_object(value, encoding)
