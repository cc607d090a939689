"""test_clients_openmemory.py — `mnemo serve`'s /mcp as an MCP client set up
for OpenMemory (mem0's MCP server) reaches it: the official `mcp` SDK's
Streamable HTTP client, unchanged, at /mcp/{client}/http/{user_id} (the URL
OpenMemory gives its clients), calling OpenMemory's tool names. The user of
the URL is the scope: another user's URL sees nothing of it, and cannot
delete it by id. Plain /mcp still answers with mnemo's own tools.

usage: python test_clients_openmemory.py MNEMO MODEL_DIR   (the clients venv)
"""
import asyncio
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

MNEMO, MODEL = sys.argv[1], sys.argv[2]
check = serve_util.Checks()


def payload(result):
    """A tool call's JSON answer (its text; the structured content must agree)."""
    data = json.loads(result.content[0].text)
    if result.structured_content is not None:
        assert result.structured_content == data
    return data


async def call(url, tool, args):
    async with streamable_http_client(url) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            r = await session.call_tool(tool, args)
            print(f"{url.split('/mcp', 1)[1] or '/'} {tool}({json.dumps(args)}) -> "
                  f"{'error: ' if r.is_error else ''}{r.content[0].text[:160]}")
            return r


async def main(base):
    alice, bob = base + "/mcp/claude/http/alice", base + "/mcp/cursor/http/bob"
    async with streamable_http_client(alice) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check("initialize at OpenMemory's URL: the server is mnemo", init.server_info.name == "mnemo")
            names = {t.name for t in (await session.list_tools()).tools}
            check("tools/list has OpenMemory's four tools",
                  {"add_memories", "search_memory", "list_memories", "delete_all_memories"} <= names, names)
    texts = ["Alice is allergic to peanuts", "Alice's favourite city is Lisbon"]
    ids = []
    for t in texts:
        r = await call(alice, "add_memories", {"text": t})
        res = payload(r)["results"]
        check("add_memories: one ADD result with the text", not r.is_error and res[0]["event"] == "ADD"
              and res[0]["memory"] == t, res)
        ids.append(res[0]["id"])
    r = await call(bob, "add_memories", {"text": "Bob plays the cello"})
    bob_id = payload(r)["results"][0]["id"]
    r = await call(alice, "search_memory", {"query": "Alice is allergic to peanuts"})
    hits = payload(r)["results"]
    check("search_memory at alice's URL: alice's memories only, best first",
          sorted(h["id"] for h in hits) == sorted(ids) and hits[0]["score"] >= hits[-1]["score"], hits)
    check("search_memory: the memory recorded the client as agent_id and the user",
          all(h["agent_id"] == "claude" and h["user_id"] == "alice" for h in hits), hits)
    if "embeddinggemma" in MODEL:  # the real model: its own text ranks first
        check("search_memory: own text first", hits[0]["id"] == ids[0], hits)
    r = await call(alice, "list_memories", {})
    check("list_memories at alice's URL", [m["memory"] for m in payload(r)["results"]] == texts)
    r = await call(bob, "list_memories", {})
    check("list_memories at bob's URL: bob's only", [m["id"] for m in payload(r)["results"]] == [bob_id])
    r = await call(bob, "delete_memories", {"memory_ids": [ids[0]]})
    check("delete_memories of alice's id at bob's URL: nothing deleted, the id reported unknown",
          payload(r)["deleted"] == 0 and payload(r)["not_found"] == [ids[0]])
    r = await call(alice, "search_memory", {"query": 42})
    check("search_memory with a number: a tool error naming query", r.is_error and "query" in r.content[0].text)
    r = await call(alice, "add_memories", {"text": "x", "colour": "red"})
    check("add_memories with an unknown argument: a tool error naming it", r.is_error and "colour" in r.content[0].text)
    r = await call(alice, "delete_all_memories", {})
    check("delete_all_memories at alice's URL: her two", not r.is_error and payload(r)["deleted"] == 2)
    r = await call(bob, "list_memories", {})
    check("bob's memory is still there", [m["id"] for m in payload(r)["results"]] == [bob_id])
    r = await call(base + "/mcp", "memory_get", {"id": bob_id})
    check("plain /mcp: mnemo's own tools see it too", payload(r)["text"] == "Bob plays the cello")


def run():
    data = tempfile.mkdtemp(prefix="mnemo-openmemory-")
    try:
        srv = serve_util.Server(MNEMO, MODEL, "--data-dir", data)
        try:
            asyncio.run(main(srv.url))
            import urllib.error
            import urllib.request
            req = urllib.request.Request(srv.url + "/mcp/claude/sse/alice", b"{}",
                                         {"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=30)
                status = 200
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read().decode()
            check("an MCP URL other than /mcp and /mcp/{client}/http/{user}: 404 naming both",
                  status == 404 and "/mcp/{client}/http/{user_id}" in body)
        finally:
            check("server exits 0 on SIGTERM", srv.stop() == 0)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    print(f"{check.passed} passed, {check.failed} failed")
    sys.exit(1 if check.failed else 0)


run()
