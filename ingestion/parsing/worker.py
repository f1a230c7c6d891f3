"""Entry point of the parse process: `python -m ingestion.parsing.worker`.

Reads one JSON request on stdin ({"path", "limits", "loader"}), caps its own address space, runs
the loader and writes JSON lines on stdout: {"pages": [read, total]} as pages are read (progress),
then one reply, {"document": ...} or {"error": "<sentence>"}. Nothing else may reach stdout, so
fd 1 is pointed at stderr while the loader runs.
"""

import importlib
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingestion.errors import ParseError
from ingestion.parsing.limits import ParseLimits
from ingestion.parsing.page_progress import listen
from ingestion.parsing.wire import document_to_json
from ingestion.types import ParsedDocument

Loader = Callable[[Path, ParseLimits], ParsedDocument]


def limit_memory(memory_mb: int) -> None:
    cap = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash should not write a core file


def import_loader(spec: str) -> Loader:
    """"package.module:function" -> the function."""
    module_name, _, function_name = spec.partition(":")
    loader: Loader = getattr(importlib.import_module(module_name), function_name)
    return loader


def run(request: dict[str, Any]) -> dict[str, Any]:
    path = Path(request["path"])
    limits = ParseLimits(**request["limits"])
    limit_memory(limits.memory_mb)
    try:
        document = import_loader(request["loader"])(path, limits)
        return {"document": document_to_json(document)}
    except ParseError as error:
        return {"error": str(error)}
    except MemoryError:
        return {"error": f"{path.name} needs more than {limits.memory_mb:,} MB of memory to parse."}
    except RecursionError:
        return {"error": f"{path.name} is nested too deeply to parse; it may be a hostile file."}
    except Exception as error:  # the caller gets a sentence, whatever the parser library threw
        return {"error": f"{path.name} could not be parsed ({type(error).__name__}: {error})."}


def main() -> None:
    reply_stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def pages_read(done: int, total: int) -> None:
        reply_stream.write(json.dumps({"pages": [done, total]}) + "\n")
        reply_stream.flush()  # the parent shows it now, not when the file is done

    listen(pages_read)
    reply = run(json.loads(sys.stdin.read()))
    json.dump(reply, reply_stream, ensure_ascii=False)  # one line: JSON escapes newlines in strings
    reply_stream.flush()


if __name__ == "__main__":
    main()
