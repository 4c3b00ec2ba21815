"""Writes the seed corpus in fuzz/seeds/ from the test fixtures.

Each seed is two chunking bytes (see src/lib.rs) followed by a fixture body; up to six
fixtures per target, tool-calling ones first. Run from fuzz/: python3 make_seeds.py
"""
import glob
import os
import struct

FIXTURES = "../tests/fixtures"
PROVIDERS = {
    "anthropic": ["anthropic"],
    "openai_chat": ["openai-chat", "openai-compatible"],
    "openai_responses": ["openai-responses"],
    "gemini": ["gemini"],
    "bedrock": ["bedrock"],
}
ORDER = list(PROVIDERS)  # the order of Provider::ALL


def pick(dirs, n=6):
    found = [
        f
        for d in dirs
        for f in glob.glob(f"{FIXTURES}/{d}/*")
        if f.endswith((".sse", ".bin")) and os.path.getsize(f) < 12000
    ]
    found.sort(key=lambda f: ("tool" not in f, os.path.getsize(f)))
    return found[:n]


def write(target, fixture, seed):
    os.makedirs(f"seeds/{target}", exist_ok=True)
    with open(fixture, "rb") as src, open(f"seeds/{target}/{os.path.basename(fixture)}", "wb") as dst:
        dst.write(struct.pack("<H", seed) + src.read())


for target, dirs in PROVIDERS.items():
    for i, f in enumerate(pick(dirs)):
        write(target, f, 0x0005 + i)
        write("auto", f, 0x0006)
        # The turn target reads the provider from the high byte and the policy from bit 4.
        write("turn", f, (ORDER.index(target) << 8) | (0x05 if i % 2 else 0x35))
for f in sorted(glob.glob(f"{FIXTURES}/sse-vectors/*.sse")) + pick(["anthropic"], 3):
    write("sse", f, 0x0003)
for f in pick(["bedrock"]):
    write("eventstream", f, 0x0004)
