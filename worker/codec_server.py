"""The remote codec server: Temporal's ``POST /encode`` and ``POST /decode`` over HTTP.

The Temporal Web UI (``temporal server start-dev --ui-codec-endpoint URL``) and the Temporal
CLI (``--codec-endpoint URL --codec-auth "Bearer TOKEN"``) send payloads here to show
decrypted conversations. The protocol: the body is a ``Payloads`` message as protobuf JSON
(``{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``), the reply
is the same shape, and only the last path segment selects the operation, so
``/{namespace}/decode`` works too (the CLI's templating). The UI adds ``X-Namespace``.

Security: every ``POST`` needs ``Authorization: Bearer <CONVOFLOW_CODEC_SERVER_TOKEN>``
unless the app is built ``insecure=True`` (local development only). Only ``application/json``
bodies are accepted, so a cross-origin browser request always needs a CORS preflight, which
only the configured origins pass.
"""

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from models.limits import InvalidJsonError, loads_strict, too_long
from worker.codec import EncryptionCodec

log = logging.getLogger("convoflow.codec_server")

DEFAULT_PORT = 8888
MIN_TOKEN_BYTES = 32
UI_PORT = 8233


def ui_origins(ui_port: int = UI_PORT) -> tuple[str, ...]:
    """The origins of a local Temporal UI on ``ui_port``: both names of loopback."""
    return (f"http://localhost:{ui_port}", f"http://127.0.0.1:{ui_port}")


DEFAULT_CORS_ORIGINS = ui_origins()
MAX_BODY_BYTES = 16 * 1024 * 1024
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
ALLOWED_METHODS = "POST, OPTIONS"

Operation = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def build_codec_app(
    codec: EncryptionCodec,
    *,
    token: str | None,
    cors_origins: Sequence[str] = DEFAULT_CORS_ORIGINS,
    insecure: bool = False,
) -> Starlette:
    """The codec server app. Without ``token`` it refuses to build unless ``insecure``."""
    if not token and not insecure:
        raise ValueError(
            "the codec server needs a bearer token (CONVOFLOW_CODEC_SERVER_TOKEN);"
            " use insecure mode only for local development"
        )
    if token and len(token.encode()) < MIN_TOKEN_BYTES:
        raise ValueError(
            f"the codec server's bearer token (CONVOFLOW_CODEC_SERVER_TOKEN) must be at least"
            f" {MIN_TOKEN_BYTES} bytes, like the gateway's secret"
        )
    origins = frozenset(origin.rstrip("/") for origin in cors_origins)
    expected = f"Bearer {token}".encode() if token else None
    operations: dict[str, Operation] = {"encode": codec.encode, "decode": codec.decode}

    def cors_headers(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None:
            return {}
        if origin.rstrip("/") not in origins:
            # Said out loud: to a browser a refused preflight looks like a server that is down.
            log.warning(
                "refused origin %r (allowed: %s; add it with --cors-origin)",
                origin,
                ", ".join(sorted(origins)),
            )
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    def error(request: Request, status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status, headers=cors_headers(request))

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    async def preflight(request: Request) -> Response:
        headers = cors_headers(request)
        if not headers:
            return Response(status_code=403)
        headers |= {
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return await preflight(request)
        operation = operations.get(request.url.path.rstrip("/").rsplit("/", 1)[-1])
        if operation is None:
            return error(request, 404, "not found: use POST .../encode or .../decode")
        if request.method != "POST":
            return error(request, 405, "use POST")
        if "origin" in request.headers and not cors_headers(request):
            return error(request, 403, "origin not allowed")
        if not authorized(request):
            return error(request, 401, "missing or wrong bearer token")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return error(request, 415, "Content-Type must be application/json")
        length = request.headers.get("content-length")
        if too_long(length, MAX_BODY_BYTES):
            return error(request, 413, "request body too large")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error(request, 413, "request body too large")
        try:
            payloads = json_format.ParseDict(loads_strict(body), Payloads())
        except (json_format.ParseError, InvalidJsonError) as err:
            return error(request, 400, f"body is not Payloads JSON: {err}")
        try:
            result = Payloads(payloads=await operation(payloads.payloads))
        except ValueError as err:  # unknown key id, tampered payload
            return error(request, 400, str(err))
        return Response(
            json_format.MessageToJson(result),
            media_type="application/json",
            headers=cors_headers(request),
        )

    return Starlette(
        routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "OPTIONS"])],
    )
