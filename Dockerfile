# One image for the API, the migrate step and the workers of a team deployment (docker-compose.yml).
# Not built in seedscope's CI, which has no Docker engine.
FROM python:3.11-slim

# cpu (default) or a CUDA wheel index such as cu128 for GPU workers.
ARG TORCH_INDEX=cpu
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY requirements requirements
COPY backend backend
COPY worker worker
COPY frontend frontend
COPY migrations migrations
COPY alembic.ini ./
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/${TORCH_INDEX} \
 && pip install --no-cache-dir -c requirements/constraints.txt -e ".[worker]" \
 && pip install --no-cache-dir --no-deps -r requirements/embedded.txt
ENV SEEDSCOPE_HOME=/data
