FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 bot
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir bot && touch bot/__init__.py && pip install . && rm -rf bot
COPY bot ./bot
RUN pip install --no-deps . && mkdir -p /app/data && chown bot /app/data
USER bot
VOLUME ["/app/data"]
CMD ["python", "-m", "bot", "run"]
