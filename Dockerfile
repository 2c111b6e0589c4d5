# The gateway in one container: serves every plugin of /app/plugins on port 8000.
#   docker build -t plugin-gateway .
#   docker run --stop-timeout 40 -p 8000:8000 -v "$PWD/plugins:/app/plugins" plugin-gateway
# The stop timeout must exceed plugins.drain_timeout_s (30 s) or in-flight requests are
# killed; docs/DEPLOYMENT.md has the rest (read-only root, Kubernetes, ECS, PostgreSQL).
#
# Reproducible: dependencies come only from requirements.lock (pinned, hashed; regenerate with
# scripts/lock). Pin the base image by digest as well for a byte-for-byte rebuild:
#   --build-arg PYTHON_IMAGE=docker.io/library/python:3.11-slim@sha256:<digest>
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim

# checkov:skip=CKV_DOCKER_7: the tag is in ARG PYTHON_IMAGE (python:3.11-slim); add the digest with --build-arg
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from the lock alone: a change to gateway/ reuses this layer.
COPY requirements.lock ./
RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir --no-deps --require-hashes -r requirements.lock

# Packages the plugins need (pip requirement strings, space-separated), e.g.
#   --build-arg EXTRA_PACKAGES="httpx==0.28.1 pandas==2.3.3"
# Constrained by the lock, so they cannot move a dependency of the gateway.
ARG EXTRA_PACKAGES=""
# hadolint ignore=SC2086
RUN if [ -n "$EXTRA_PACKAGES" ]; then \
        sed -e '/^ *--hash/d' -e 's/ *\\$//' requirements.lock > /tmp/constraints.txt \
        && pip install --no-cache-dir --constraint /tmp/constraints.txt $EXTRA_PACKAGES \
        && pip check; \
    fi

# The gateway itself, without touching the dependencies; then the build tools leave the venv.
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools \
    && python -m pip uninstall --yes pip


FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# the repository this was built from: --build-arg SOURCE=https://...
ARG SOURCE=unknown
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="plugin-gateway" \
      org.opencontainers.image.description="One process, one port: FastAPI, Flask, Django and plain-function services hot-loaded from a plugins folder." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# Nothing is written outside /tmp (a tmpfs) and the volumes, so the root filesystem can be
# read-only: no bytecode files, the temporary directory and HOME on /tmp.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    HOME=/tmp \
    GATEWAY_SERVER_HOST=0.0.0.0 \
    GATEWAY_SERVER_PORT=8000

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Owned by group 0 and as writable for the group as for the owner: any uid in group 0 can run
# it (OpenShift's random uid, `--user 12345:0`), not only 10001.
RUN useradd --uid 10001 --gid 0 --home-dir /app --no-create-home --shell /usr/sbin/nologin gateway \
    && mkdir -p /app/data /app/plugins
COPY --chown=10001:0 config.yaml ./
COPY --chown=10001:0 plugins ./plugins
RUN chgrp -R 0 /app && chmod -R g=u /app

USER 10001:0
# plugins: the folder the gateway watches; data: Django's SQLite database, the generated
# secret key and admin token.
VOLUME ["/app/plugins", "/app/data"]
EXPOSE 8000

# Reads the port and admin prefix the way the gateway does (config.yaml, GATEWAY_* variables).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; from gateway.config import load_config; c = load_config(); u.urlopen(f'http://127.0.0.1:{c.server.port}{c.admin.prefix}/health', timeout=4)"]

STOPSIGNAL SIGTERM
CMD ["gateway", "run"]
