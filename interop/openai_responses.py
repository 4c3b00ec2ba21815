"""openai (Python), Responses: a streaming tool loop with client.responses.stream, as the
SDK's docs write it: the final response's output items go back into the input as they
are, then one function_call_output item per call.

Usage: python -W error openai_responses.py BASE_URL   (BASE_URL ending in /v1)
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
        {"type": "function", "name": name, "description": description, "parameters": schema}
        for name, (description, schema) in TOOLS.items()
    ]
    inputs = [{"role": "user", "content": PROMPT}]
    turns = []
    for _ in range(MAX_TURNS):
        streamed = []
        with client.responses.stream(model=MODEL, input=inputs, tools=tools) as stream:
            for event in stream:
                if event.type == "response.output_text.delta":
                    streamed.append(event.delta)
            response = stream.get_final_response()
        assert "".join(streamed) == response.output_text, (streamed, response.output_text)
        calls = [item for item in response.output if item.type == "function_call"]
        turns.append(
            {
                "text": response.output_text,
                "tool_calls": [
                    {"id": c.call_id, "name": c.name, "input": json.loads(c.arguments)} for c in calls
                ],
            }
        )
        inputs += response.output
        if not calls:
            break
        for c in calls:
            inputs.append(
                {
                    "type": "function_call_output",
                    "call_id": c.call_id,
                    "output": run_tool(c.name, json.loads(c.arguments)),
                }
            )
    return turns


if __name__ == "__main__":
    main()
