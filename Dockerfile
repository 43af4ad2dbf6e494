# One image for the Convoflow worker and the HTTP gateway (docker-compose.yml runs both).
# For Amazon Bedrock AgentCore Runtime, build it for arm64 and run the gateway (the default
# command): docker buildx build --platform linux/arm64 -t convoflow .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY models ./models
COPY workflows ./workflows
COPY activities ./activities
COPY agents ./agents
COPY worker ./worker
COPY client ./client
COPY gateway ./gateway
COPY cli ./cli
COPY webui ./webui
RUN pip install ".[tracing]" \
    && useradd --create-home --uid 10001 convoflow \
    && mkdir -p /data \
    && chown convoflow /data

USER convoflow
ENV CONVOFLOW_DATA_DIR=/data \
    CONVOFLOW_GATEWAY_HOST=0.0.0.0 \
    CONVOFLOW_GATEWAY_PORT=8080 \
    CONVOFLOW_METRICS_HOST=0.0.0.0 \
    CONVOFLOW_MODEL=echo
EXPOSE 8080 9464
CMD ["convoflow", "gateway"]
