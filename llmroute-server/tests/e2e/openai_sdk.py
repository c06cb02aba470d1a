"""End-to-end: the official `openai` Python SDK against a running llmroute-server.

Usage: python openai_sdk.py BASE_URL KEY
The server routes `gpt-4o` to a fake Azure answering "Hello from fake Azure", and
`gpt-4o-limited` to a fake deployment that always answers 429.
Prints one line per check; exits non-zero on the first failure.
"""
import json
import sys

import openai
from openai import AzureOpenAI, OpenAI

base, key = sys.argv[1], sys.argv[2]
expected = "Hello from fake Azure"
client = OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


models = [m.id for m in client.models.list()]
check("models.list", "gpt-4o" in models, models)

resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
check("create", resp.choices[0].message.content == expected, resp)
check("usage", resp.usage is not None and resp.usage.total_tokens > 0, resp.usage)

stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
chunks = list(stream)
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check("stream text", text == expected, text)
check("stream without usage chunk", all(c.choices for c in chunks), [c for c in chunks if not c.choices])

stream = client.chat.completions.create(
    model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
    stream_options={"include_usage": True},
)
chunks = list(stream)
check("stream usage chunk last", chunks[-1].usage is not None and not chunks[-1].choices, chunks[-1])

# Tools: a forced tool_choice makes the fake answer with a tool call, as Azure does.
tools = [{"type": "function", "function": {"name": "weather", "description": "Get weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
question = [{"role": "user", "content": "weather in Rome?"}]
named = {"type": "function", "function": {"name": "weather"}}


def check_call(name, call_id, fn_name, arguments):
    check(f"{name} id", isinstance(call_id, str) and call_id.startswith("call_"), call_id)
    check(f"{name} name", fn_name == "weather", fn_name)
    args = json.loads(arguments)
    check(f"{name} JSON arguments", isinstance(args.get("city"), str), arguments)


for choice in ("required", named):
    resp = client.chat.completions.create(model="gpt-4o", messages=question, tools=tools, tool_choice=choice)
    message = resp.choices[0].message
    check(f"tool_choice={choice} finish_reason", resp.choices[0].finish_reason == "tool_calls", resp)
    check(f"tool_choice={choice} one call", message.tool_calls is not None and len(message.tool_calls) == 1, message)
    call = message.tool_calls[0]
    check(f"tool_choice={choice} type", call.type == "function", call)
    check_call(f"tool_choice={choice}", call.id, call.function.name, call.function.arguments)

# The follow-up turn: the SDK's own assistant message, then the tool's result.
follow_up = question + [message, {"role": "tool", "tool_call_id": call.id, "content": "20 C, sunny"}]
resp = client.chat.completions.create(model="gpt-4o", messages=follow_up, tools=tools)
check("tool result turn", resp.choices[0].finish_reason == "stop" and resp.choices[0].message.content == expected, resp)

# Streamed: tool-call deltas by index, the arguments over several chunks.
stream = client.chat.completions.create(model="gpt-4o", messages=question, tools=tools, tool_choice=named,
                                        stream=True, stream_options={"include_usage": True})
calls, finish, argument_chunks, usage = {}, None, 0, None
for chunk in stream:
    usage = chunk.usage or usage
    for c in chunk.choices:
        finish = c.finish_reason or finish
        for d in c.delta.tool_calls or []:
            entry = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
            entry["id"] = d.id or entry["id"]
            if d.function is not None:
                entry["name"] = d.function.name or entry["name"]
                if d.function.arguments:
                    entry["arguments"] += d.function.arguments
                    argument_chunks += 1
check("streamed finish_reason", finish == "tool_calls", finish)
check("streamed one call at index 0", list(calls) == [0], calls)
check("streamed arguments split over chunks", argument_chunks >= 2, argument_chunks)
check_call("streamed", calls[0]["id"], calls[0]["name"], calls[0]["arguments"])
check("streamed usage", usage is not None and usage.completion_tokens > 0, usage)
follow_up = question + [
    {"role": "assistant", "content": None, "tool_calls": [{"id": calls[0]["id"], "type": "function",
     "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}]},
    {"role": "tool", "tool_call_id": calls[0]["id"], "content": "20 C, sunny"},
]
stream = client.chat.completions.create(model="gpt-4o", messages=follow_up, tools=tools, stream=True)
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
check("streamed tool result turn", text == expected, text)

# A tool message that answers no call is refused (Azure's 400), passed on as such.
try:
    client.chat.completions.create(model="gpt-4o", messages=question + [
        {"role": "tool", "tool_call_id": "call_unknown", "content": "20 C"}], tools=tools)
    check("orphan tool message raises", False, "no exception")
except openai.BadRequestError as e:
    check("orphan tool message BadRequestError", e.status_code == 400, e)

resp = client.chat.completions.create(model="gpt-4o", messages=question, tools=tools, tool_choice="auto")
check("tool_choice=auto answers text", resp.choices[0].finish_reason == "stop", resp)

try:
    OpenAI(base_url=f"{base}/v1", api_key="sk-wrong-key-123456789", max_retries=0).models.list()
    check("401 raises", False, "no exception")
except openai.AuthenticationError as e:
    check("401 AuthenticationError", e.status_code == 401 and e.code == "invalid_api_key", e)

try:
    client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    check("404 raises", False, "no exception")
except openai.NotFoundError as e:
    check("404 NotFoundError", e.code == "model_not_found", e)

try:
    client.chat.completions.create(model="gpt-4o-limited", messages=[{"role": "user", "content": "hi"}])
    check("429 raises", False, "no exception")
except openai.RateLimitError as e:
    check("429 RateLimitError", e.status_code == 429 and e.response.headers.get("retry-after") is not None, e)

azure = AzureOpenAI(azure_endpoint=base, api_key=key, api_version="2024-10-21", max_retries=0)
resp = azure.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
check("AzureOpenAI create", resp.choices[0].message.content == expected, resp)
stream = azure.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
check("AzureOpenAI stream", text == expected, text)
print("all checks passed")
