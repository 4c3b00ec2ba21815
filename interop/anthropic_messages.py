"""anthropic (Python): a streaming tool loop with client.messages.stream, as the SDK's
docs write it: the final message's content goes back into the history as it is.

Usage: python -W error anthropic_messages.py BASE_URL   (BASE_URL without /v1)
"""

import anthropic

from demo_tools import MAX_TURNS, MODEL, PROMPT, TOOLS, base_url, emit, run_tool


def main():
    # Closed at the end, as the SDK documents (connections are released now, not at
    # garbage collection).
    with anthropic.Anthropic(base_url=base_url(), api_key="interop-key", max_retries=0) as client:
        turns = loop(client)
    emit(turns)


def loop(client):
    tools = [
        {"name": name, "description": description, "input_schema": schema}
        for name, (description, schema) in TOOLS.items()
    ]
    messages = [{"role": "user", "content": PROMPT}]
    turns = []
    for _ in range(MAX_TURNS):
        with client.messages.stream(
            model=MODEL, max_tokens=1024, tools=tools, messages=messages
        ) as stream:
            streamed = "".join(stream.text_stream)
            message = stream.get_final_message()
        text = "".join(block.text for block in message.content if block.type == "text")
        assert streamed == text, (streamed, text)
        calls = [block for block in message.content if block.type == "tool_use"]
        turns.append(
            {
                "text": text,
                "tool_calls": [{"id": c.id, "name": c.name, "input": c.input} for c in calls],
            }
        )
        messages.append({"role": "assistant", "content": message.content})
        if message.stop_reason != "tool_use":
            break
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": run_tool(c.name, c.input)}
                    for c in calls
                ],
            }
        )
    return turns


if __name__ == "__main__":
    main()
