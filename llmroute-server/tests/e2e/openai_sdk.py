"""End-to-end: the official `openai` Python SDK against a running llmroute-server.

Usage: python openai_sdk.py BASE_URL KEY
The server routes `gpt-4o` to a fake Azure answering "Hello from fake Azure", and
`gpt-4o-limited` to a fake deployment that always answers 429.
Prints one line per check; exits non-zero on the first failure.
"""
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

tools = [{"type": "function", "function": {"name": "weather", "description": "Get weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "weather?"}],
                                      tools=tools, tool_choice="auto")
check("tools accepted", resp.choices[0].finish_reason in ("stop", "tool_calls"), resp)

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
