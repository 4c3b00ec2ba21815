"""A small MCP server over stdio, written with the official Python SDK's FastMCP (called
MCPServer since `mcp` 2.0), for the MCP tests (tests/mcp_servers.rs) and the per-call bench
(interop/mcp_bench.py, benches/mcp_call.rs).

Its tools, each with the annotations a client decides eager dispatch from:

  ping           read-only, closed world; answers at once (the bench's call)
  lookup         read-only, closed world; waits a little, then answers from a fixed table
  delete_record  destructive
  fail           answers with an error result (isError), the tool's own message
  sleep          read-only; sleeps SECONDS; a cancellation is written to the log
  crash          the process exits in the middle of the call
  configure      typed arguments (an integer from 1 to 5 and an enum)
  add_tool       registers a new tool, then sends notifications/tools/list_changed
  remove_tool    unregisters a tool, then sends notifications/tools/list_changed

Environment:

  TOOLSTREAM_MCP_LOG     a file to append one JSON object per line to: the server's
                         start, and each call's start, end, cancellation or exit, with
                         the time (`t`, seconds since the Unix epoch), the tool, the
                         request id and the arguments
  TOOLSTREAM_MCP_DELAYS  a JSON object: milliseconds `lookup` waits for each key
                         (default 50 for every key)

Usage: python -W error mcp_server.py
"""

import json
import os
import time
from typing import Annotated, Literal

import anyio
from mcp.server.lowlevel import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.types import ToolAnnotations
from pydantic import Field

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
WRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

RECORDS = {
    "alpha": "the first record",
    "beta": "the second record",
    "gamma": "the third record",
}

LOG = os.environ.get("TOOLSTREAM_MCP_LOG")
DELAYS = json.loads(os.environ.get("TOOLSTREAM_MCP_DELAYS") or "{}")

# Warnings only on standard error: the INFO lines would log every call.
mcp = MCPServer("toolstream-interop", log_level="WARNING")


def record(event, tool=None, ctx=None, **fields):
    """Appends one line to the log (nothing without TOOLSTREAM_MCP_LOG)."""
    if not LOG:
        return
    line = {"t": time.time(), "pid": os.getpid(), "event": event}
    if tool is not None:
        line["tool"] = tool
    if ctx is not None:
        line["request_id"] = str(ctx.request_id)
    line.update(fields)
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


@mcp.tool(annotations=READ_ONLY)
async def ping() -> str:
    """Answers `pong` at once."""
    return "pong"


@mcp.tool(annotations=READ_ONLY)
async def lookup(key: str, ctx: Context) -> str:
    """Looks a record up by key (alpha, beta or gamma)."""
    record("start", "lookup", ctx, args={"key": key})
    await anyio.sleep(DELAYS.get(key, 50) / 1000)
    answer = f"{key}: {RECORDS.get(key, 'no such record')}"
    record("end", "lookup", ctx, args={"key": key})
    return answer


@mcp.tool(annotations=DESTRUCTIVE)
async def delete_record(record_id: int, reason: str, ctx: Context) -> str:
    """Deletes a record for good."""
    record("start", "delete_record", ctx, args={"record_id": record_id, "reason": reason})
    await anyio.sleep(0.01)
    record("end", "delete_record", ctx, args={"record_id": record_id})
    return f"record {record_id} deleted"


@mcp.tool(annotations=READ_ONLY)
async def fail(message: str, ctx: Context) -> str:
    """Fails with MESSAGE: the answer is an error result."""
    record("start", "fail", ctx, args={"message": message})
    raise ToolError(message)


@mcp.tool(annotations=READ_ONLY)
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleeps SECONDS, then answers."""
    record("start", "sleep", ctx, args={"seconds": seconds})
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        # notifications/cancelled for this request: the SDK cancels the call's task.
        record("cancelled", "sleep", ctx)
        raise
    record("end", "sleep", ctx)
    return f"slept {seconds} s"


@mcp.tool(annotations=WRITES)
async def crash(ctx: Context) -> str:
    """Ends the server's process in the middle of the call."""
    record("exit", "crash", ctx)
    os._exit(3)


@mcp.tool(annotations=WRITES)
async def configure(
    level: Annotated[int, Field(ge=1, le=5, description="How loud, from 1 to 5")],
    mode: Annotated[Literal["fast", "safe"], Field(description="How careful")],
    ctx: Context,
) -> str:
    """Sets the level and the mode."""
    record("start", "configure", ctx, args={"level": level, "mode": mode})
    return f"level {level}, mode {mode}"


@mcp.tool(annotations=WRITES)
async def add_tool(name: str, ctx: Context) -> str:
    """Registers a read-only tool called NAME, then tells the client its tools changed."""
    record("start", "add_tool", ctx, args={"name": name})

    async def added() -> str:
        return f"{name} was added at run time"

    mcp.add_tool(
        added, name=name, description=f"A tool added at run time ({name}).", annotations=READ_ONLY
    )
    await ctx.session.send_tool_list_changed()
    record("end", "add_tool", ctx, args={"name": name})
    return f"added {name}"


@mcp.tool(annotations=WRITES)
async def remove_tool(name: str, ctx: Context) -> str:
    """Unregisters the tool called NAME, then tells the client its tools changed."""
    record("start", "remove_tool", ctx, args={"name": name})
    mcp.remove_tool(name)
    await ctx.session.send_tool_list_changed()
    return f"removed {name}"


async def main():
    # `mcp.run("stdio")`, but declaring `tools.listChanged`: this server sends
    # notifications/tools/list_changed (add_tool, remove_tool).
    server = mcp._lowlevel_server
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with stdio_server() as (read, write):
        await server.run(read, write, options)


if __name__ == "__main__":
    record("ready")
    anyio.run(main)
