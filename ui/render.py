"""Text from the model and from documents, made safe to show: every piece is HTML-escaped (and
Markdown-escaped where the Chatbot renders Markdown) before it goes into HTML we build, so no
<script>, <img onerror> or Markdown image from a document or an answer can run or load anything.

Pure functions over plain data (citation dicts as stored with a message); no Gradio here."""

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

# Characters that Markdown (and the Chatbot's LaTeX/HTML passes) would treat as syntax.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$])")


def escape_markdown(text: str) -> str:
    """Plain text as Markdown that renders exactly as the text: HTML escaped, syntax backslashed."""
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))  # no &#x27; (its # would be escaped)


# Inside the HTML we build, Markdown syntax is written as character references: even a Markdown
# pass over the HTML block cannot turn a document's "![x](http://...)" into an image.
_HTML_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_[]()!$~|#"})


def escape_html(text: str) -> str:
    """html.escape, plus Markdown's syntax characters as references (one pass, so no double escaping)."""
    return text.translate(_HTML_MARKDOWN)


def one_line(text: str) -> str:
    """Whitespace runs to one space: a blank line inside an HTML block would end it early."""
    return " ".join(text.split())


def when(moment: datetime, now: datetime | None = None) -> str:
    """A short time for a listing: "14:03" today, "12 Oct 14:03" this year, else "12 Oct 2025"."""
    if moment.tzinfo is None:  # stored in UTC without a zone
        moment = moment.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.year == now.year:
        return moment.strftime("%d %b %H:%M")
    return moment.strftime("%d %b %Y")


def document_link(document_id: int, page: int) -> str:
    """The authenticated route that serves the original; `#page=` makes the PDF viewer open there."""
    return f"/documents/{int(document_id)}/file#page={max(1, int(page))}"


def highlighted(snippet: str, sentence: str) -> str:
    """The passage escaped, with the supporting sentence wrapped in <mark>."""
    snippet, sentence = one_line(snippet), one_line(sentence)
    at = snippet.find(sentence) if sentence else -1
    if at < 0:
        tail = f" <mark>{escape_html(sentence)}</mark>" if sentence else ""
        return escape_html(snippet) + tail
    before, after = snippet[:at], snippet[at + len(sentence) :]
    return f"{escape_html(before)}<mark>{escape_html(sentence)}</mark>{escape_html(after)}"


def source_html(citation: Mapping[str, Any]) -> str:
    n, page = int(citation.get("n", 0)), int(citation.get("page", 1))
    name = escape_html(one_line(str(citation.get("document", ""))))
    link = html.escape(document_link(int(citation.get("document_id", 0)), page), quote=True)
    passage = highlighted(str(citation.get("snippet", "")), str(citation.get("sentence", "")))
    return (
        f'<div class="kb-source"><span class="kb-source-n">[{n}]</span> '
        f'<a class="kb-open" href="{link}" target="_blank" rel="noopener noreferrer">{name}, page {page}</a>'
        f'<blockquote class="kb-passage">{passage}</blockquote></div>'
    )


PREVIEW_CONTEXT_CHARS = 700  # of the page, either side of the highlighted sentence


def page_preview_html(citation: Mapping[str, Any], page_text: str) -> str:
    """A cited page beside the answer: its text around the supporting sentence (highlighted),
    escaped, with the link that opens the original at that page."""
    n, page = int(citation.get("n", 0)), int(citation.get("page", 1))
    name = escape_html(one_line(str(citation.get("document", ""))))
    link = html.escape(document_link(int(citation.get("document_id", 0)), page), quote=True)
    text, sentence = one_line(page_text), one_line(str(citation.get("sentence", "")))
    at = text.find(sentence) if sentence else -1
    if at >= 0:
        start, end = max(0, at - PREVIEW_CONTEXT_CHARS), at + len(sentence) + PREVIEW_CONTEXT_CHARS
        body = ("…" if start else "") + highlighted(text[start:end], sentence) + ("…" if end < len(text) else "")
    else:  # the sentence is not on this page's text as stored: the page, then the quoted passage
        quoted = highlighted(str(citation.get("snippet", "")), sentence)
        body = escape_html(text[: 2 * PREVIEW_CONTEXT_CHARS]) + f'<blockquote class="kb-passage">{quoted}</blockquote>'
    return (
        f'<div class="kb-preview"><div class="kb-preview-title"><span class="kb-source-n">[{n}]</span> '
        f'<a class="kb-open" href="{link}" target="_blank" rel="noopener noreferrer">{name}, page {page}</a></div>'
        f'<div class="kb-preview-page">{body}</div></div>'
    )


def sources_html(citations: Sequence[Mapping[str, Any]], title: str = "Sources") -> str:
    if not citations:
        return ""
    items = "".join(source_html(c) for c in citations)
    return f'<div class="kb-sources"><div class="kb-sources-title">{escape_html(title)}</div>{items}</div>'


def dropped_html(checks: Mapping[str, Any]) -> str:
    """The sentences checking removed, each with its reason, folded away under a one-line summary."""
    dropped = [c for c in checks.get("checked") or () if not c.get("verified")]
    if not dropped:
        return ""
    kept = "the quoted evidence is shown instead" if checks.get("method") == "extractive" else "they are not shown"
    items = "".join(
        f'<li><span class="kb-dropped-text">{escape_html(one_line(str(c.get("text", ""))))}</span> '
        f'<span class="kb-dropped-why">({escape_html(one_line(str(c.get("reason", ""))))})</span></li>'
        for c in dropped
    )
    n = len(dropped)
    # the reasons differ (a figure on no cited page, not about the question, ...): each is listed
    summary = f"{n} sentence{'s' if n != 1 else ''} of the model's answer removed by the check against the sources"
    return (
        f'<details class="kb-dropped"><summary>{escape_html(summary)}; {escape_html(kept)}.</summary>'
        f"<ul>{items}</ul></details>"
    )


def answer_markdown(
    text: str, citations: Sequence[Mapping[str, Any]] = (), checks: Mapping[str, Any] | None = None
) -> str:
    """An assistant message for the Chatbot: the escaped answer, then its sources (the most
    relevant passages when nothing could be verified), then what checking removed."""
    checks = checks or {}
    body = escape_markdown(text.strip()) or "…"
    unverified = checks.get("outcome") == "unverified"
    sources = sources_html(citations, "Most relevant passages" if unverified else "Sources")
    extra = "".join(x for x in (sources, dropped_html(checks)) if x)
    return f"{body}\n\n{extra}" if extra else body


CSS = """
.kb-sources { margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; }
.kb-sources-title { font-weight: 600; font-size: .9em; }
.kb-source { margin: .4em 0; font-size: .9em; }
.kb-passage { margin: .2em 0 .2em .5em; padding-left: .6em; border-left: 3px solid var(--border-color-accent); }
.kb-passage mark { background: #fff3a3; color: inherit; }
.kb-notice { padding: .3em .6em; }
.kb-preview { margin-bottom: .8em; font-size: .9em; }
.kb-preview-title { font-weight: 600; margin-bottom: .3em; }
.kb-preview-page { max-height: 45vh; overflow-y: auto; padding: .5em; border: 1px solid var(--border-color-primary);
  border-radius: 4px; line-height: 1.5; }
.kb-preview-page mark { background: #fff3a3; color: inherit; }
.kb-dropped { margin-top: .4em; font-size: .85em; color: var(--body-text-color-subdued); }
.kb-dropped-text { text-decoration: line-through; }
/* A long history scrolls in its own box instead of stretching the page below the chat. */
#kb-conversations > .wrap:not(.default) { max-height: 45vh; overflow-y: auto; }
/* A phone: the chat first, then the cited pages and the conversation list (not above it, pushing Send away). */
@media (max-width: 768px) {
  #kb-chat-row { flex-direction: column; }
  #kb-chat-row > #kb-chat-column { order: 1; }
  #kb-chat-row > #kb-preview-column { order: 2; min-width: 100% !important; }
  #kb-chat-row > #kb-conversation-column { order: 3; min-width: 100% !important; }
  #kb-chat-buttons button { font-size: .9em; padding-left: .3em; padding-right: .3em; }
}
"""


def quoted_name(name: str) -> str:
    """A file name for a Content-Disposition header (RFC 5987)."""
    return "UTF-8''" + quote(name, safe="")
