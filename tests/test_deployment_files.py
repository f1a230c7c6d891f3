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


def test_compose_runs_the_scaled_out_topology() -> None:
    """db, the model server on the GPU, app replicas that use it, workers on the task queue; the
    same topology runs for real in tests/e2e/test_topology.py."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert set(services) == {"db", "model-server", "app", "worker"}
    model, app, worker = services["model-server"], services["app"], services["worker"]
    assert model["command"][:4] == ["kb", "model-server", "--host", "0.0.0.0"]
    assert model["environment"]["KB_MODEL_API_KEY"].startswith("${KB_MODEL_API_KEY:?")  # required, never a default
    assert model["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert any(v.endswith(":/models:ro") for v in model["volumes"])
    assert "ports" not in model  # only the app containers reach it
    assert app["environment"]["KB_MODEL_URL"].endswith("http://model-server:8001/v1}")
    assert app["depends_on"]["model-server"]["condition"] == "service_healthy"
    assert str(app["deploy"]["replicas"]).startswith("${KB_APP_REPLICAS")
    assert worker["command"] == ["kb", "worker"]
    for service in (app, worker):
        assert service["environment"]["KB_TASK_QUEUE"] == "procrastinate"
        assert service["environment"]["KB_DATABASE_URL"] == app["environment"]["KB_DATABASE_URL"]
        assert not any(v.split(":")[1] == "/data" for v in service.get("volumes", []) if ":" in v)  # own cache each


def test_dockerfile_installs_the_project_and_serves() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'pip install "torch==2.13.0"' in text
    assert 'CMD ["kb", "serve"]' in text
    for package in ("app", "ingestion", "model", "store", "ui"):  # every package pyproject.toml installs
        assert f"COPY {package} ./{package}" in text


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """`docker-compose config` (Debian's docker-compose, installed by the test setup) accepts the file."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose not installed (scripts/test.sh installs it as root)")
    env = tmp_path / ".env"
    env.write_text("KB_DB_PASSWORD=test\nKB_MODEL_API_KEY=test-key\n")
    result = subprocess.run(
        ["docker-compose", "--env-file", str(env), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
