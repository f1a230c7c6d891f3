"""The compose file and Dockerfile are valid and wire the app to PostgreSQL and a GPU."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_structure() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, db = compose["services"]["app"], compose["services"]["db"]
    assert app["environment"]["KB_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # never on all interfaces by default
    assert any(v.endswith(":/models:ro") for v in app["volumes"])
    assert "healthcheck" in db


def test_dockerfile_installs_the_project_and_serves() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'pip install "torch==2.13.0"' in text
    assert 'CMD ["kb", "serve"]' in text


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """`docker-compose config` (Debian's docker-compose, installed by the test setup) accepts the file."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose not installed (scripts/test.sh installs it as root)")
    env = tmp_path / ".env"
    env.write_text("KB_DB_PASSWORD=test\n")
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
