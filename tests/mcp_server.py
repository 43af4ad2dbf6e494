"""A real MCP server for tests (the ``mcp`` package's FastMCP), over stdio or HTTP.

``python -m tests.mcp_server stdio`` talks on stdin/stdout (a worker starts it);
``python -m tests.mcp_server http PORT`` serves streamable HTTP on 127.0.0.1:PORT/mcp.
"""

import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("convoflow-tests", host="127.0.0.1", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
def explode(reason: str = "exploded on purpose") -> str:
    """Always fails."""
    raise ValueError(reason)


def main() -> None:
    """Serve on the transport named in argv."""
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if transport == "http":
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
