# The gateway in one container: serves every plugin of /app/plugins on port 8000.
#   docker build -t plugin-gateway .
#   docker run -p 8000:8000 -v "$PWD/plugins:/app/plugins" plugin-gateway
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GATEWAY_SERVER_HOST=0.0.0.0 \
    GATEWAY_SERVER_PORT=8000

WORKDIR /app

COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --no-create-home gateway

COPY --chown=gateway:gateway config.yaml ./
COPY --chown=gateway:gateway plugins ./plugins
# Django's SQLite database and generated secret key live here.
RUN mkdir -p /app/data && chown gateway:gateway /app/data

USER 10001:10001
VOLUME ["/app/plugins", "/app/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_gateway/health' % os.environ.get('GATEWAY_SERVER_PORT', '8000'), timeout=3)"]

STOPSIGNAL SIGTERM
CMD ["gateway", "run"]
