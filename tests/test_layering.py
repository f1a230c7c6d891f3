"""Imports point downward only: ui -> app -> {ingestion, model}, app and ingestion -> store; model
and store import none of the others."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "ingestion", "model", "store", "ui")
ALLOWED = {
    "ui": {"ui", "app"},
    "app": {"app", "ingestion", "model", "store"},
    "ingestion": {"ingestion", "store"},
    "store": {"store"},  # accounts, keys, conversations, documents, chunks, audit: below both
    "model": {"model"},
}
# model/ may use only these third-party libraries (DESIGN.md), plus jinja2 for chat templates and
# triton, the kernel compiler CUDA torch ships with (model/triton_gemv.py, imported on first use).
MODEL_THIRD_PARTY = {"torch", "numpy", "safetensors", "gguf", "tokenizers", "jinja2", "triton"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_downward(package: str) -> None:
    offenders = []
    for path in python_files(package):
        for name in imported_top_levels(path) & set(PACKAGES):
            if name not in ALLOWED[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_model_uses_only_its_allowed_libraries() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in python_files("model"):
        for name in imported_top_levels(path) - stdlib - {"model", "__future__"}:
            if name not in MODEL_THIRD_PARTY:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_checker_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from app.settings import Settings\nimport ui.chat\n")
    assert {"app", "ui"} <= imported_top_levels(bad)


def test_ui_talks_only_to_the_service_facade() -> None:
    """ui/ calls KnowledgeService's own methods; it never reaches through it to the knowledge base,
    the accounts, the conversation store, the keys or the chain."""
    inner = {"kb", "accounts", "store", "keys", "chain", "_writer"}
    offenders = []
    for path in python_files("ui"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in inner
                and isinstance(node.value, ast.Attribute | ast.Name)
                and (node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id) == "service"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} service.{node.attr}")
    assert not offenders, offenders
