"""One running web app per test module (starting Gradio costs about a second)."""

from collections.abc import Iterator

import pytest

from tests.ui.server import Running, serve


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve(tmp_path_factory.mktemp("web"), max_upload_bytes=200_000) as running:
        yield running
