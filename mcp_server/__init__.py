"""The product as a Model Context Protocol server (the official `mcp` SDK's MCPServer).

server.py declares the tools and resources; bridge.py is how they reach the REST bridge (its
HTTP API, with the caller's token: the one source of truth and the one permission check);
stdio.py is the `videogen-mcp` console script; http.py serves it from the bridge at `/mcp`
(streamable HTTP). See README, "MCP server".
"""
