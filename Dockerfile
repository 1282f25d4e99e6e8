# syntax=docker/dockerfile:1
#
# temporal-registry: the registry server (`temporal-registry serve`) as a container image.
#
#   docker build -t temporal-registry .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal:7233 temporal-registry
#
# Two stages:
#   builder  installs the project and its dependencies into /app/.venv with uv, exactly as
#            pinned by uv.lock (`--frozen`: the lock is used as is, never re-resolved). Only the
#            runtime dependencies: no dev group and no dev-stack extra (the Temporal and Envoy
#            binaries of `temporal-registry up` run in their own containers here).
#   runtime  the same Python base image plus that venv, run as an unprivileged user.
#
# Configuration comes from the environment variables read by registry/server/default_config.yaml
# (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, REGISTRY_GRPC_PORT, LOG_LEVEL, ...), or from a file
# mounted into the container and passed with `serve -f /path/config.yaml`.

# Both stages must use the same interpreter: the venv's python is a link to it.
ARG PYTHON_IMAGE=python:3.11-slim
# The uv that resolves uv.lock; keep it close to the version the lock was written with.
ARG UV_VERSION=0.13.9

##### builder #####
FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install "uv==${UV_VERSION}"

WORKDIR /src

# Dependencies first, in a layer of their own: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-project

# Then the project itself, built by hatchling as a wheel and installed (not editable) into the
# venv: the wheel holds `registry` and the generated contract `gen/python/temporal_registry`.
COPY registry/ registry/
COPY gen/ gen/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

##### runtime #####
FROM ${PYTHON_IMAGE} AS runtime

# Inside a container the registry must listen on every interface to be reachable at all.
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REGISTRY_HOST=0.0.0.0

RUN groupadd --system --gid 10001 registry \
    && useradd --system --uid 10001 --gid registry --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin registry

# Owned by root: the service user can run the venv but not modify it.
COPY --from=builder /app/.venv /app/.venv

WORKDIR /app
USER 10001:10001

# gRPC (server.grpc_port) and plain HTTP /metrics (server.http_port).
EXPOSE 50051 9464

# Healthy once the gRPC health service reports the whole server ("") SERVING, which the
# registry does only when it is connected to Temporal and its workflow is running.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; c = grpc.insecure_channel('127.0.0.1:' + os.environ.get('REGISTRY_GRPC_PORT', '50051')); r = g.HealthStub(c).Check(h.HealthCheckRequest(service=''), timeout=3); sys.exit(0 if r.status == h.HealthCheckResponse.SERVING else 1)"]

ENTRYPOINT ["/app/.venv/bin/temporal-registry"]
CMD ["serve"]
