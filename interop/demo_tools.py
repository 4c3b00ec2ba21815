"""The tools, prompt and output format shared by the Python loops of the interop suite.

The tools match the mock's script (interop/script.json, the same turns as the default
demo): get_weather, get_time, search and get_forecast. Their answers are deterministic,
so a second run of a loop sends the same bytes as the first (and the mock counts hits).

Each loop prints one JSON object on stdout:
{"turns": [{"text": "...", "tool_calls": [{"id": ..., "name": ..., "input": {...}}]}]}
one entry per model turn, as the SDK assembled it.
"""

import json
import sys

MODEL = "mock-1"
PROMPT = "What's the weather in Paris, Tokyo and Osaka, and should I take an umbrella?"
MAX_TURNS = 6

WEATHER = {
    "Paris": {"temperature": 21, "conditions": "sunny"},
    "Tokyo": {"temperature": 17, "conditions": "light rain"},
    "Osaka": {"temperature": 19, "conditions": "dry"},
}

# name -> (description, JSON schema of the arguments)
TOOLS = {
    "get_weather": (
        "Current weather in a city.",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    ),
    "get_time": (
        "Local time in an IANA time zone.",
        {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "e.g. Asia/Tokyo"}},
            "required": ["timezone"],
        },
    ),
    "search": (
        "Web search; returns the top results.",
        {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "description": "How many results"},
            },
            "required": ["query"],
        },
    ),
    "get_forecast": (
        "Weather forecast for the next days in a city.",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
            },
            "required": ["city", "days"],
        },
    ),
}


def run_tool(name, args):
    """The tool's answer, as a JSON string (an error object for unknown tools)."""
    if name == "get_weather":
        city = args.get("city", "")
        w = WEATHER.get(city, {"temperature": 20, "conditions": "unknown"})
        result = {"city": city, "unit": args.get("unit", "celsius"), **w}
    elif name == "get_time":
        result = {"timezone": args.get("timezone"), "time": "2025-06-01T18:30:00"}
    elif name == "search":
        limit = int(args.get("limit", 3))
        result = {
            "query": args.get("query"),
            "results": [f"result {i + 1} for {args.get('query')}" for i in range(limit)],
        }
    elif name == "get_forecast":
        result = {
            "city": args.get("city"),
            "days": [{"day": d + 1, "conditions": "clearing"} for d in range(int(args.get("days", 1)))],
        }
    else:
        result = {"error": f"unknown tool {name}"}
    return json.dumps(result, sort_keys=True)


def base_url():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL")
    return sys.argv[1].rstrip("/")


def emit(turns):
    """Prints the turns: [{"text": str, "tool_calls": [{"id", "name", "input"}]}]."""
    json.dump({"turns": turns}, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")
