"""boto3, Bedrock Runtime: a streaming tool loop with converse_stream, as the Bedrock
docs write it (the streamed events assembled into the assistant message, which goes back
into the history with one toolResult block per toolUse, in the calls' order), then the
same loop with converse (the whole message at once); both must give the same turns.

The client signs with SigV4 (dummy credentials: the mock checks the signature's form, it
cannot check its value) and sends a cachePoint after the system prompt; the model id is a
cross-region inference profile, which boto3 percent-encodes in the path.

Usage: python -W error bedrock_boto3.py BASE_URL [stream|whole|both]   (default: both)
"""

import json
import os
import sys
from contextlib import closing

import boto3
from botocore.config import Config

from demo_tools import MAX_TURNS, PROMPT, TOOLS, emit, run_tool

MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SYSTEM = [{"text": "You answer with the tools."}, {"cachePoint": {"type": "default"}}]


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["stream"], ["whole"], ["both"]):
        sys.exit(f"usage: {sys.argv[0]} BASE_URL [stream|whole|both]")
    mode = sys.argv[2] if len(sys.argv) == 3 else "both"
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=sys.argv[1].rstrip("/"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "interop-secret"),
        config=Config(retries={"total_max_attempts": 1}),
    )
    with closing(client):
        streamed = loop(client, stream_turn) if mode in ("stream", "both") else None
        whole = loop(client, whole_turn) if mode in ("whole", "both") else None
    if streamed is not None and whole is not None:
        assert streamed == whole, (streamed, whole)
    emit(streamed if streamed is not None else whole)


def loop(client, turn):
    tool_config = {
        "tools": [
            {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}
            for name, (description, schema) in TOOLS.items()
        ]
    }
    messages = [{"role": "user", "content": [{"text": PROMPT}]}]
    turns = []
    for _ in range(MAX_TURNS):
        message, stop_reason, usage = turn(
            client, modelId=MODEL_ID, system=SYSTEM, messages=messages, toolConfig=tool_config
        )
        # The request asked for caching: the usage says what was read and written.
        assert "cacheReadInputTokens" in usage and "cacheWriteInputTokens" in usage, usage
        calls = [b["toolUse"] for b in message["content"] if "toolUse" in b]
        turns.append(
            {
                "text": "".join(b.get("text", "") for b in message["content"]),
                "tool_calls": [
                    {"id": c["toolUseId"], "name": c["name"], "input": c["input"]} for c in calls
                ],
            }
        )
        messages.append(message)
        if stop_reason != "tool_use":
            break
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": c["toolUseId"],
                            "content": [{"text": run_tool(c["name"], c["input"])}],
                        }
                    }
                    for c in calls
                ],
            }
        )
    return turns


def stream_turn(client, **request):
    """converse_stream: the events assembled into the assistant message, block by block."""
    response = client.converse_stream(**request)
    blocks = {}
    inputs = {}
    stop_reason = usage = None
    for event in response["stream"]:
        if "messageStart" in event:
            assert event["messageStart"]["role"] == "assistant", event
        elif "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool = start["start"]["toolUse"]
            blocks[start["contentBlockIndex"]] = {
                "toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}
            }
            inputs[start["contentBlockIndex"]] = ""
        elif "contentBlockDelta" in event:
            i = event["contentBlockDelta"]["contentBlockIndex"]
            delta = event["contentBlockDelta"]["delta"]
            if "text" in delta:
                blocks.setdefault(i, {"text": ""})["text"] += delta["text"]
            elif "toolUse" in delta:
                inputs[i] += delta["toolUse"]["input"]
            elif "reasoningContent" in delta:
                text = blocks.setdefault(i, {"reasoningContent": {"reasoningText": {"text": ""}}})
                reasoning = text["reasoningContent"]["reasoningText"]
                reasoning["text"] += delta["reasoningContent"].get("text", "")
                if "signature" in delta["reasoningContent"]:
                    reasoning["signature"] = delta["reasoningContent"]["signature"]
        elif "contentBlockStop" in event:
            i = event["contentBlockStop"]["contentBlockIndex"]
            if i in inputs:
                blocks[i]["toolUse"]["input"] = json.loads(inputs[i] or "{}")
        elif "messageStop" in event:
            stop_reason = event["messageStop"]["stopReason"]
        elif "metadata" in event:
            usage = event["metadata"]["usage"]
            assert event["metadata"]["metrics"]["latencyMs"] >= 0, event
        else:
            raise AssertionError(f"unexpected event {event}")
    assert stop_reason is not None and usage is not None, (stop_reason, usage)
    message = {"role": "assistant", "content": [blocks[i] for i in sorted(blocks)]}
    return message, stop_reason, usage


def whole_turn(client, **request):
    """converse: the assistant message as the response holds it."""
    response = client.converse(**request)
    assert response["metrics"]["latencyMs"] >= 0, response
    return response["output"]["message"], response["stopReason"], response["usage"]


if __name__ == "__main__":
    main()
