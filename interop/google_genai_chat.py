"""google-genai (Python): a streaming tool loop in a chat session, as the SDK's docs write
it: client.chats.create with the function declarations, chat.send_message_stream for the
prompt and then for the function responses; the chat keeps the history itself.

Usage: python -W error google_genai_chat.py BASE_URL   (BASE_URL without /v1beta)
"""

import json

from google import genai
from google.genai import types

from demo_tools import MAX_TURNS, MODEL, PROMPT, TOOLS, base_url, emit, run_tool


def main():
    with genai.Client(
        api_key="interop-key", http_options=types.HttpOptions(base_url=base_url())
    ) as client:
        turns = loop(client)
    emit(turns)


def loop(client):
    declarations = [
        types.FunctionDeclaration(name=name, description=description, parameters_json_schema=schema)
        for name, (description, schema) in TOOLS.items()
    ]
    chat = client.chats.create(
        model=MODEL,
        config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=declarations)]),
    )
    message = PROMPT
    turns = []
    for _ in range(MAX_TURNS):
        text = ""
        calls = []
        for chunk in chat.send_message_stream(message):
            if not chunk.candidates or not chunk.candidates[0].content:
                continue
            for part in chunk.candidates[0].content.parts or []:
                if part.text and not part.thought:
                    text += part.text
                if part.function_call:
                    calls.append(part.function_call)
        turns.append(
            {
                "text": text,
                "tool_calls": [{"id": c.id, "name": c.name, "input": c.args} for c in calls],
            }
        )
        if not calls:
            break
        message = [
            types.Part.from_function_response(
                name=c.name, response={"output": json.loads(run_tool(c.name, c.args))}
            )
            for c in calls
        ]
    return turns


if __name__ == "__main__":
    main()
