"""openai (Python), Chat Completions: a streaming tool loop with
client.chat.completions.stream, as the SDK's docs write it: the final completion's
message goes back into the history as it is, then one "tool" message per call.

Usage: python -W error openai_chat.py BASE_URL   (BASE_URL ending in /v1)
"""

import json

import openai

from demo_tools import MAX_TURNS, MODEL, PROMPT, TOOLS, base_url, emit, run_tool


def main():
    # Closed at the end, as the SDK documents (connections are released now, not at
    # garbage collection).
    with openai.OpenAI(base_url=base_url(), api_key="interop-key", max_retries=0) as client:
        turns = loop(client)
    emit(turns)


def loop(client):
    tools = [
        {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": schema},
        }
        for name, (description, schema) in TOOLS.items()
    ]
    messages = [{"role": "user", "content": PROMPT}]
    turns = []
    for _ in range(MAX_TURNS):
        streamed = []
        with client.chat.completions.stream(model=MODEL, messages=messages, tools=tools) as stream:
            for event in stream:
                if event.type == "content.delta":
                    streamed.append(event.delta)
            completion = stream.get_final_completion()
        choice = completion.choices[0]
        message = choice.message
        text = message.content or ""
        assert "".join(streamed) == text, (streamed, text)
        calls = message.tool_calls or []
        turns.append(
            {
                "text": text,
                "tool_calls": [
                    {"id": c.id, "name": c.function.name, "input": json.loads(c.function.arguments)}
                    for c in calls
                ],
            }
        )
        messages.append(message)
        if choice.finish_reason != "tool_calls":
            break
        for c in calls:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": c.id,
                    "content": run_tool(c.function.name, json.loads(c.function.arguments)),
                }
            )
    return turns


if __name__ == "__main__":
    main()
