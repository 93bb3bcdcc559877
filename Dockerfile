# syntax=docker/dockerfile:1
# The bot, installed exactly as the README installs it (./scripts/install), in two stages so
# the image holds the installed bot and nothing used only to build it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY scripts ./scripts
# The dependencies alone, in their own layer: rebuilt only when pyproject.toml or the scripts
# change, not on every change to the code.
RUN ./scripts/install --deps-only
COPY bot ./bot
RUN ./scripts/install --no-deps

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    METRICS_PORT=9100
# /healthz and /metrics listen on loopback (METRICS_HOST's default), which the HEALTHCHECK
# reaches; set METRICS_HOST=0.0.0.0 for Prometheus to scrape from outside the container.
# libopus encodes voice for jams (Debian's own build; the image follows its security updates).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopus0 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 bot \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 bot \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
WORKDIR /app
COPY --from=build /app /app
USER 10001:10001
# The SQLite database (DATABASE_URL's default, data/bot.db) lives here.
VOLUME ["/app/data"]
# /healthz and /metrics
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
