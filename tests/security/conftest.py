"""One running web app per test module, as in tests/ui."""

from tests.ui.conftest import web

__all__ = ["web"]
