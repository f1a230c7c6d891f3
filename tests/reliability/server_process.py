"""A real server process for kill tests: `python -m tests.reliability.server_process PORT` serves
the web app (API and page) over the data folder in KB_DATA_DIR (and KB_DATABASE_URL, if set), with
the hashing embedder and the fake model, and recovers at start exactly as `kb serve` does."""

import sys
import threading

import uvicorn

from app.settings import load_settings
from app.wiring import open_service
from tests.app.fake_llm import FakeEngine
from ui.serve import _recover
from ui.server import create_web_app


def main(port: int) -> None:
    settings = load_settings(embedder="hashing-64")
    with open_service(settings, engine=FakeEngine()) as service:
        web = create_web_app(service, settings)
        threading.Thread(target=_recover, args=(service,), daemon=True).start()
        uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))
