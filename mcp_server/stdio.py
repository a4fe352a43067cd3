"""`videogen-mcp`: the MCP server on stdio, for an assistant that starts it as a subprocess.

It calls the REST bridge at VIDEOGEN_MCP_API_URL with VIDEOGEN_MCP_TOKEN as its bearer token,
so the token's `projects` claim decides what the assistant may see and change.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mcp_server.bridge import over_http
from mcp_server.server import build_server
from videogen_dagster.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="videogen-mcp",
        description="The video generation MCP server on stdio. It calls the REST bridge at "
                    "VIDEOGEN_MCP_API_URL (default http://127.0.0.1:8000) with the JWT in "
                    "VIDEOGEN_MCP_TOKEN; VIDEOGEN_MCP_TIMEOUT_SECONDS bounds each call.",
    ).parse_args(argv)
    try:
        s = get_settings().mcp
    except SettingsError as exc:
        print(f"videogen-mcp: {exc}", file=sys.stderr)
        return 2
    # Logs go to stderr: stdout carries the protocol.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="videogen-mcp %(levelname)s %(name)s: %(message)s")
    build_server(over_http(s.api_url, s.token, s.timeout_seconds)).run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
