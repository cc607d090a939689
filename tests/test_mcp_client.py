"""test_mcp_client.py — `mnemo mcp` driven by the official MCP Python SDK
(PyPI `mcp`, the venv tests/test_venv.sh makes) as the client, over stdio:
initialize, list the tools, add memories, search (vector, text, filtered),
get, update, list, delete, and a bad call reported as a tool error.
usage: python test_mcp_client.py MNEMO MODEL_DIR WORK_DIR
"""
import asyncio
import json
import os
import shutil
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

MNEMO, MODEL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(name, ok):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)


def payload(result):
    """The JSON answer of a tool call (its text content; structured content must agree)."""
    text = result.content[0].text
    data = json.loads(text)
    if result.structured_content is not None:
        assert result.structured_content == data
    return data


async def main():
    data_dir = os.path.join(WORK, "mcp-store-%d" % os.getpid())
    shutil.rmtree(data_dir, ignore_errors=True)
    params = StdioServerParameters(command=MNEMO, args=["mcp", "--data-dir", data_dir, "--model", MODEL])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check("initialize: server is mnemo", init.server_info.name == "mnemo")
            tools = await session.list_tools()
            names = {t.name for t in tools.tools}
            check("tools/list: the six memory tools and OpenMemory's five",
                  names == {"memory_add", "memory_search", "memory_get", "memory_update", "memory_delete", "memory_list",
                            "add_memories", "search_memory", "list_memories", "delete_memories",
                            "delete_all_memories"})
            ids = []
            for text, topic in [("I am allergic to peanuts", "health"), ("My favourite city is Lisbon", "travel"),
                                ("The meeting with Ana is on Friday", "work")]:
                r = await session.call_tool("memory_add", {"text": text, "metadata": {"topic": topic}, "user_id": "u1"})
                check("memory_add '%s'" % text, not r.is_error)
                ids.append(payload(r)["data"][0]["id"])
            r = await session.call_tool("memory_search", {"query": "The meeting with Ana is on Friday", "k": 3, "user_id": "u1"})
            hits = payload(r)["data"]
            check("memory_search: 3 results, best first", len(hits) == 3 and hits[0]["score"] >= hits[1]["score"])
            check("memory_search: own text ranks first", hits[0]["id"] == ids[2])
            r = await session.call_tool("memory_search", {"query": "Lisbon", "mode": "text"})
            hits = payload(r)["data"]
            check("memory_search text mode", len(hits) == 1 and hits[0]["id"] == ids[1])
            r = await session.call_tool("memory_search", {"query": "anything", "filter": {"topic": {"$in": ["health"]}}})
            hits = payload(r)["data"]
            check("memory_search with a filter", [h["id"] for h in hits] == [ids[0]])
            r = await session.call_tool("memory_get", {"id": ids[1]})
            check("memory_get", payload(r)["text"] == "My favourite city is Lisbon")
            r = await session.call_tool("memory_update", {"id": ids[1], "text": "My favourite city is Porto"})
            check("memory_update", payload(r)["text"] == "My favourite city is Porto")
            r = await session.call_tool("memory_list", {"limit": 2})
            page = payload(r)
            check("memory_list: a page and a cursor", len(page["data"]) == 2 and page["next_cursor"])
            r = await session.call_tool("memory_delete", {"id": ids[0]})
            check("memory_delete", payload(r)["deleted"] is True)
            r = await session.call_tool("memory_get", {"id": ids[0]})
            check("memory_get after delete: a tool error", r.is_error and "no memory" in r.content[0].text)
            r = await session.call_tool("memory_search", {"query": "x", "k": 5000})
            check("k out of range: a tool error naming k", r.is_error and "k:" in r.content[0].text)
            r = await session.call_tool("memory_add", {"text": "x", "colour": "red"})
            check("unknown field: a tool error naming it", r.is_error and "colour" in r.content[0].text)
            # OpenMemory's names over stdio: no URL names a user, so user_id is an argument
            r = await session.call_tool("add_memories", {"text": "Bea drinks oolong tea", "user_id": "bea"})
            om = payload(r)["results"][0]
            check("add_memories: OpenMemory's answer", not r.is_error and om["event"] == "ADD" and om["memory"] == "Bea drinks oolong tea")
            r = await session.call_tool("search_memory", {"query": "Bea drinks oolong tea", "user_id": "bea"})
            hits = payload(r)["results"]
            check("search_memory: only bea's memory, with a score and ISO times",
                  [h["id"] for h in hits] == [om["id"]] and isinstance(hits[0]["score"], float) and hits[0]["created_at"].endswith("Z"))
            r = await session.call_tool("list_memories", {"user_id": "bea"})
            check("list_memories", [m["memory"] for m in payload(r)["results"]] == ["Bea drinks oolong tea"])
            r = await session.call_tool("delete_all_memories", {})
            check("delete_all_memories without a user: a tool error naming user_id", r.is_error and "user_id" in r.content[0].text)
            r = await session.call_tool("delete_memories", {"memory_ids": [om["id"]], "user_id": "someone-else"})
            check("delete_memories of another user's id: nothing deleted", payload(r)["deleted"] == 0)
            r = await session.call_tool("delete_all_memories", {"user_id": "bea"})
            check("delete_all_memories", payload(r)["deleted"] == 1)
            r = await session.call_tool("list_memories", {"user_id": "bea"})
            check("list_memories after delete_all_memories: empty", payload(r)["results"] == [])
            r = await session.call_tool("add_memories", {"text": 5})
            check("add_memories with a number: a tool error naming text", r.is_error and "text" in r.content[0].text)
    shutil.rmtree(data_dir, ignore_errors=True)


asyncio.run(main())
print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
