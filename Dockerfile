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
# The processes run as an unprivileged user that owns only /data (the shared volume: adapters, models);
# the code under /app stays root's and read-only to them. A named volume mounted on /data takes the
# directory's owner from the image the first time it is created.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin seedscope \
 && mkdir -p /data && chown seedscope:seedscope /data
ENV SEEDSCOPE_HOME=/data HOME=/data
USER seedscope
