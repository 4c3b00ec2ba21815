"""Per-call cost of an MCP tool call over stdio with the official Python SDK's client: the
baseline benches/mcp_call.rs compares toolstream's McpTools with.

Starts interop/mcp_server.py (with the Python running this script), runs the handshake,
calls its cheapest read-only tool (`ping`) WARMUP times, then N times one after the other,
and prints one JSON object: {"calls": N, "us_per_call": mean, "us_median": median of the
calls' own times}.

Usage: python -W error mcp_bench.py [N]   (default 2000)
"""

import json
import os
import statistics
import sys
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

WARMUP = 50


async def main(n):
    server = StdioServerParameters(
        command=sys.executable,
        args=[os.path.join(os.path.dirname(os.path.abspath(__file__)), "mcp_server.py")],
    )
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(WARMUP):
                await call(session)
            each = []
            start = time.perf_counter()
            for _ in range(n):
                t = time.perf_counter()
                await call(session)
                each.append(time.perf_counter() - t)
            total = time.perf_counter() - start
    print(
        json.dumps(
            {
                "calls": n,
                "us_per_call": round(total / n * 1e6, 1),
                "us_median": round(statistics.median(each) * 1e6, 1),
            }
        )
    )


async def call(session):
    result = await session.call_tool("ping", {})
    if result.is_error or result.content[0].text != "pong":
        raise SystemExit(f"ping answered {result}")


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
