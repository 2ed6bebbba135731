# fraudwatch in its own container, for compose.yaml (Redpanda + Mailpit).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agents agents
COPY tables tables
COPY producers producers
COPY ui ui
COPY config config
COPY detection detection
COPY runtime runtime
RUN pip install --no-cache-dir .
ENV FRAUDWATCH_DATA_DIR=/data
VOLUME /data
ENTRYPOINT ["fraudwatch"]
CMD ["worker", "--loglevel", "info"]
