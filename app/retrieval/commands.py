"""Questions that ask for a command, a file or a package: how-to questions about a technical manual.

"开机特别慢，想看看是哪个服务拖了后腿，用什么命令？" shares few words with the manual's sentence
("systemd-analyze blame ..."), yet what it asks for is a name written in Latin letters or a path,
which encyclopaedia-style questions and everyday questions about policies never ask for.
"""

import re

_WHICH = r"(?:哪个|哪一个|哪条|哪一条|哪些|哪|什么|啥)"
_CODE_THING = r"(?:命令|工具|软件包|软件|包|程序|选项|参数|关键字|配置文件|文件|目录)"
ASKS_FOR_CODE = re.compile(
    rf"{_WHICH}\s*{_CODE_THING}|命令(?:该|要|应该)?怎么写|"
    r"\b(?:which|what)\s+(?:command|tool|file|package|program|option|keyword|directory)",
    re.IGNORECASE,
)


def asks_for_code(question: str) -> bool:
    return bool(ASKS_FOR_CODE.search(question))


# "怎么重新设置时区？": a how-to question, which a manual answers with the sentence that leads into the
# command ("下面是重新配置 Debian 系统使用的时区。" then "# dpkg-reconfigure tzdata").
_ASKS_HOW = re.compile(r"怎么|怎样|如何|\bhow\s+(?:do|does|can|could|should|to)\b", re.IGNORECASE)


def asks_how_to(question: str) -> bool:
    return bool(_ASKS_HOW.search(question))
