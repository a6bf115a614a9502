# Two images from one file, matching the Makefile's extras:
#   docker build --target api    -t warmstep-api .     (front end: no torch)
#   docker build --target worker -t warmstep-worker .  (training worker: torch)
# On a CUDA host, install the CUDA build of the same torch version first, e.g.
#   pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY clients/python ./clients/python
COPY warmstep ./warmstep
COPY service ./service
COPY worker ./worker
COPY protos ./protos

FROM base AS api
RUN pip install . ./clients/python \
    && cd / && python -c "from warmstep.schedules import prepare_compiled_loops as p; p()"
EXPOSE 8000 50051
ENV WARMSTEP_HOST=0.0.0.0
CMD ["warmstep", "serve"]

FROM base AS worker
ARG TORCH_INDEX_URL=""
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"; fi \
    && pip install ".[worker]" ./clients/python
CMD ["warmstep", "worker"]
