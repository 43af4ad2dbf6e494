"""The HTTP gateway: Convoflow sessions behind the Amazon Bedrock AgentCore Runtime
contract, with bearer-token auth, limits and per-owner isolation (and the chat page)."""

from gateway.app import Gateway, build_gateway, serve_gateway
from gateway.errors import GatewayError, error_for
from gateway.requests import Invocation, parse_invocation
from gateway.streaming import start_stream, turn_payload

__all__ = [
    "Gateway",
    "GatewayError",
    "Invocation",
    "build_gateway",
    "error_for",
    "parse_invocation",
    "serve_gateway",
    "start_stream",
    "turn_payload",
]
