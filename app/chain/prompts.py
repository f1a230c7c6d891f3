"""The prompts: answering from numbered sources, and condensing a follow-up question."""

from app.retrieval.text import is_mostly_cjk

NOT_FOUND_TEXT = "This is not in the knowledge base."
NOT_FOUND_PHRASE = "not in the knowledge base"
UNVERIFIED_TEXT = (
    "I could not find a verified answer. These passages look most relevant; the highlighted sentence "
    "is the closest match to your question."
)
# The same two replies to a question asked in Chinese (the API's `found` and `outcome` say it too).
NOT_FOUND_TEXT_ZH = "知识库中没有找到相关内容。"
UNVERIFIED_TEXT_ZH = "未能找到经过核实的答案。以下是看起来最相关的段落，高亮的句子与您的问题最接近。"


def not_found_text(question: str) -> str:
    return NOT_FOUND_TEXT_ZH if is_mostly_cjk(question) else NOT_FOUND_TEXT


def unverified_text(question: str) -> str:
    return UNVERIFIED_TEXT_ZH if is_mostly_cjk(question) else UNVERIFIED_TEXT

ANSWER_SYSTEM = (
    "You are a careful assistant for a company's documents. Answer the question using only the "
    "numbered sources in the user's message. After each sentence, write the number of the source "
    "it comes from in square brackets, for example [1] or [2]. Quote numbers exactly as the source "
    "writes them. If the sources do not contain the answer, reply only: "
    f'"{NOT_FOUND_TEXT}" Never use knowledge from outside the sources. Be brief.'
)

ANSWER_USER = "Sources:\n\n{sources}\n\nQuestion: {question}"

CONDENSE_SYSTEM = (
    "Rewrite the user's last question as one standalone question that can be understood without "
    "the conversation. Reply with the question only."
)

CONDENSE_USER = "Conversation:\n{history}\n\nLast question: {question}\n\nStandalone question:"
