"""test_clients_mem0.py — mem0ai's MemoryClient, unchanged, against `mnemo serve --data-dir`.

Starts the real server binary and makes every call a mem0 user makes with
mem0's own client (mem0ai 2.2.1: MemoryClient(api_key=..., host=...)):
construct (GET /v1/ping/), add (a string, a dict, a list; infer false and
true; metadata, app_id, run_id, entity ids top-level or in filters), search
(plain, AND, OR, in, NOT, metadata, app_id, categories, threshold, top_k,
keyword_search), get_all with pages, get, update (text, metadata), history,
delete, delete_all, batch_update, batch_delete, users, delete_users, and the
X-Mnemo-Namespace header; then bad input on every route, which must raise
the client's exception class (ValidationError, MemoryNotFoundError,
AuthenticationError) and store or delete nothing; a mem0 route mnemo does
not serve (feedback) is a 404 naming the ones it does; the native routes
keep their shape, HEAD works, the namespace header is checked. A second server with
--api-key-file proves "Authorization: Token KEY" and the 401. Each client
call prints one line with its result. docs/http.md, "mem0 platform API".

usage: python test_clients_mem0.py MNEMO MODEL_DIR   (in the venv tests/test_venv.sh makes)
"""
import datetime
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

os.environ.setdefault("MEM0_TELEMETRY", "False")  # read once, when mem0 is imported
HOME = tempfile.mkdtemp(prefix="mem0-home-")
os.environ["MEM0_DIR"] = HOME  # mem0 writes its config there, not to ~/.mem0

import httpx  # noqa: E402
from mem0 import MemoryClient  # noqa: E402
from mem0.exceptions import AuthenticationError, MemoryNotFoundError, ValidationError  # noqa: E402

MNEMO, MODEL = sys.argv[1], sys.argv[2]
# the tiny test model has random weights: only the real one ranks by meaning
REAL = "tiny" not in MODEL
check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line
WORK = tempfile.mkdtemp(prefix="mnemo-mem0-")


def brief(v):
    """The part of a result worth reading on one line."""
    if isinstance(v, MemoryClient):
        return f"org_id={v.org_id!r} project_id={v.project_id!r}"
    if isinstance(v, list):  # history
        return [f"{e['event']} old={e['old_memory']!r} new={e['new_memory']!r} app_id={e['app_id']!r}" for e in v]
    if not isinstance(v, dict):
        return v
    if "event_id" in v:  # add
        return {"status": v["status"], "results": [f"{x['event']} {x['memory']!r}" for x in v["results"]],
                "message": v["message"][:50] + "..."}
    if "memory" in v:  # one memory
        return {k: v[k] for k in ("memory", "user_id", "agent_id", "app_id", "run_id", "metadata", "categories",
                                  "expiration_date")}
    if isinstance(v.get("results"), list) and v["results"] and "type" in v["results"][0]:  # entities
        return {"count": v["count"], "results": [f"{x['type']}:{x['name']}({x['total_memories']})" for x in v["results"]]}
    if isinstance(v.get("results"), list):  # search, get_all
        out = {k: v[k] for k in ("count", "next", "previous") if k in v}
        out["results"] = [f"{x['memory']!r} {x['user_id']}" + (f" {x['score']:.3f}" if "score" in x else "")
                          for x in v["results"]]
        return out
    return v


def short(v, n=600):
    s = json.dumps(brief(v), default=str)
    return s if len(s) <= n else s[:n] + "..."


def call(label, fn, *args, **kwargs):
    """fn(*args, **kwargs), printed as one line: the call and its result."""
    r = fn(*args, **kwargs)
    print(f"{label} -> {short(r)}", flush=True)
    return r


def raises(label, exc, fn, *args, **kwargs):
    """The call must raise exc (mem0's class for the status); the exception, printed."""
    try:
        r = fn(*args, **kwargs)
        print(f"{label} -> no error: {short(r)}", flush=True)
        check(f"{label} raises {exc.__name__}", False, short(r))
        return None
    except Exception as e:  # the class is the check
        print(f"{label} -> {type(e).__name__}: {str(e)[:160]}", flush=True)
        check(f"{label} raises {exc.__name__}", isinstance(e, exc), f"{type(e).__name__}: {e}")
        return e


def raw(url, method, path, body=None, headers=None):
    req = urllib.request.Request(url + path, None if body is None else json.dumps(body).encode(),
                                 {"Content-Type": "application/json", **(headers or {})}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


data = os.path.join(WORK, "data")
srv = serve_util.Server(MNEMO, MODEL, "--data-dir", data)
try:
    # --- construct: GET /v1/ping/
    client = call("MemoryClient(api_key='k', host=URL)", MemoryClient, api_key="k", host=srv.url)
    check("ping: org_id mnemo, project_id the default namespace",
          client.org_id == "mnemo" and client.project_id == "default")

    def count(**filters):
        return client.get_all(filters=filters)["count"] if filters else client.get_all()["count"]

    # --- add
    r = call("add('I like green tea', user_id='alice')", client.add, "I like green tea", user_id="alice")
    tea = r["results"][0]["id"]
    check("add a string: SUCCEEDED, one ADD, the no-LLM message",
          r["status"] == "SUCCEEDED" and len(r["results"]) == 1 and r["results"][0]["event"] == "ADD"
          and r["results"][0]["memory"] == "I like green tea" and "no LLM" in r["message"] and r["event_id"])
    r = call("add({'role':'user','content':'Alice lives in Paris'}, user_id='alice', app_id='travel', metadata=...)",
             client.add, {"role": "user", "content": "Alice lives in Paris"}, user_id="alice", app_id="travel",
             metadata={"city": "paris"})
    paris = r["results"][0]["id"]
    r = call("add([violin, assistant], filters={'user_id':'bob'}, run_id='r1', infer=False)", client.add,
             [{"role": "user", "content": "Bob plays the violin"},
              {"role": "assistant", "content": "That sounds lovely"}], filters={"user_id": "bob"}, run_id="r1",
             infer=False)
    check("add a list with infer=False: every message stored",
          [x["memory"] for x in r["results"]] == ["Bob plays the violin", "That sounds lovely"])
    violin, lovely = r["results"][0]["id"], r["results"][1]["id"]
    r = call("add([risotto, assistant], user_id='bob', infer=True)", client.add,
             [{"role": "user", "content": "Bob cooks risotto on sundays"}, {"role": "assistant", "content": "Yum"}],
             user_id="bob", infer=True)
    check("add a list with infer=True: the user messages only",
          [x["memory"] for x in r["results"]] == ["Bob cooks risotto on sundays"])
    risotto = r["results"][0]["id"]
    r = call("add('Carol studies astronomy', user_id='carol', agent_id='tutor', categories=['science'], expiration_date=...)",
             client.add, "Carol studies astronomy", user_id="carol", agent_id="tutor", categories=["science"],
             metadata={"level": 3}, expiration_date="2099-12-31")
    carol = r["results"][0]["id"]
    r = call("add('I like green tea', user_id='alice') again", client.add, "I like green tea", user_id="alice")
    check("add the same text again: NOOP with the same id", r["results"][0] == {
        "id": tea, "memory": "I like green tea", "event": "NOOP"})
    check("6 memories stored", count() == 6, count())

    # --- get
    m = call(f"get(paris)", client.get, paris)
    check("get: mem0's memory object (app_id out of metadata, ISO times)",
          m["memory"] == "Alice lives in Paris" and m["user_id"] == "alice" and m["app_id"] == "travel"
          and m["metadata"] == {"city": "paris"} and m["run_id"] is None and m["agent_id"] is None
          and m["categories"] == [] and m["created_at"].endswith("+00:00") and m["expiration_date"] is None
          and datetime.datetime.fromisoformat(m["created_at"]).year >= 2026, m)
    m = call("get(carol)", client.get, carol)
    check("get: categories, agent_id, expiration_date", m["categories"] == ["science"] and m["agent_id"] == "tutor"
          and m["expiration_date"] == "2099-12-31" and m["metadata"] == {"level": 3}, m)

    # --- search
    ids = lambda res: [x["id"] for x in res["results"]]  # noqa: E731
    r = call("search('Alice lives in Paris', filters={'user_id':'alice'}, keyword_search=True)", client.search,
             "Alice lives in Paris", filters={"user_id": "alice"}, keyword_search=True)
    check("search (hybrid): the memory with the query's own text first", ids(r)[:1] == [paris], r)
    if REAL:
        r = call("search('Bob plays the violin', filters={'user_id':'bob'})", client.search, "Bob plays the violin",
                 filters={"user_id": "bob"})
        check("search (vector): the memory with the query's own text first", ids(r)[:1] == [violin], r)
        check("search: scores best first, in 0..1", all(0 <= x["score"] <= 1.0001 for x in r["results"]) and
              [x["score"] for x in r["results"]] == sorted((x["score"] for x in r["results"]), reverse=True))
    r = call("search('tea', filters={'user_id':'alice'})", client.search, "tea", filters={"user_id": "alice"})
    check("search with a user: only hers", sorted(ids(r)) == sorted([tea, paris]), r)
    r = call("search('music', filters={'OR':[{'user_id':'alice'},{'user_id':'bob'}]}, top_k=20)", client.search,
             "music", filters={"OR": [{"user_id": "alice"}, {"user_id": "bob"}]}, top_k=20)
    check("search OR: alice's and bob's, not carol's", sorted(ids(r)) == sorted([tea, paris, violin, lovely, risotto]), r)
    r = call("search('music', filters={'user_id':{'in':['bob','carol']}})", client.search, "music",
             filters={"user_id": {"in": ["bob", "carol"]}})
    check("search in: bob's and carol's", sorted(ids(r)) == sorted([violin, lovely, risotto, carol]), r)
    r = call("search('city', filters={'AND':[{'user_id':'alice'},{'metadata':{'city':'paris'}}]})", client.search,
             "city", filters={"AND": [{"user_id": "alice"}, {"metadata": {"city": "paris"}}]})
    check("search AND with metadata", ids(r) == [paris], r)
    r = call("search('city', filters={'app_id':'travel'})", client.search, "city", filters={"app_id": "travel"})
    check("search app_id", ids(r) == [paris], r)
    r = call("search('food', filters={'AND':[{'user_id':'bob'},{'NOT':[{'run_id':'r1'}]}]})", client.search, "food",
             filters={"AND": [{"user_id": "bob"}, {"NOT": [{"run_id": "r1"}]}]})
    check("search NOT run_id", ids(r) == [risotto], r)
    r = call("search('stars', filters={'categories':{'contains':'science'}})", client.search, "stars",
             filters={"categories": {"contains": "science"}})
    check("search categories contains", ids(r) == [carol], r)
    r = call("search('stars', filters={'AND':[{'user_id':'carol'},{'metadata':{'level':{'gte':3}}}]})", client.search,
             "stars", filters={"AND": [{"user_id": "carol"}, {"metadata": {"level": {"gte": 3}}}]})
    check("search metadata gte", ids(r) == [carol], r)
    r = call("search('music', filters={'user_id':'bob'}, top_k=1)", client.search, "music", filters={"user_id": "bob"},
             top_k=1)
    check("search top_k=1: one result", len(r["results"]) == 1, r)
    r = call("search('music', filters={'user_id':'bob'}, threshold=1.5)", client.search, "music",
             filters={"user_id": "bob"}, threshold=1.5)
    check("search threshold above every score: none", r["results"] == [], r)
    r = call("search('music', filters={'user_id':'bob'}, threshold=-1, rerank=True, fields=['memory'])",
             client.search, "music", filters={"user_id": "bob"}, threshold=-1, rerank=True, fields=["memory"])
    check("search threshold below every score, rerank and fields ignored: all of bob's", len(r["results"]) == 3, r)
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    r = call(f"search('x', filters={{'AND':[{{'user_id':'bob'}},{{'created_at':{{'lt':'{today}'}}}}]}})", client.search,
             "x", filters={"AND": [{"user_id": "bob"}, {"created_at": {"lt": today}}]})
    check("search created_at before today: none", r["results"] == [], r)

    # --- get_all with pages
    r = call("get_all(filters={'user_id':'bob'}, page=1, page_size=2)", client.get_all, filters={"user_id": "bob"},
             page=1, page_size=2)
    check("get_all page 1: count 3, two results, next", r["count"] == 3 and len(r["results"]) == 2 and r["next"]
          and r["previous"] is None, r)
    first = r["results"]
    r = call("get_all(filters={'user_id':'bob'}, page=2, page_size=2)", client.get_all, filters={"user_id": "bob"},
             page=2, page_size=2)
    check("get_all page 2: the third, previous", len(r["results"]) == 1 and r["next"] is None and r["previous"], r)
    both = first + r["results"]  # oldest first; one add's memories share created_at, then by id
    check("get_all pages: oldest first (created_at, id), each once",
          [x["id"] for x in both] == [x["id"] for x in sorted(both, key=lambda x: (x["created_at"], x["id"]))]
          and sorted(x["id"] for x in both) == sorted([violin, lovely, risotto]) and both[-1]["id"] == risotto,
          [x["id"] for x in both])
    r = call("get_all(filters={'AND':[{'user_id':'bob'},{'created_at':{'gte':today}}]})", client.get_all,
             filters={"AND": [{"user_id": "bob"}, {"created_at": {"gte": today}}]})
    check("get_all created_at since today", r["count"] == 3, r)
    r = call("get_all()", client.get_all)
    check("get_all(): every memory of the namespace", r["count"] == 6, r)

    # --- update, history
    m = call("update(paris, text='Alice lives in Lyon')", client.update, paris, text="Alice lives in Lyon")
    check("update text: the memory after", m["memory"] == "Alice lives in Lyon" and m["app_id"] == "travel", m)
    m = call("update(paris, metadata={'city':'lyon'})", client.update, paris, metadata={"city": "lyon"})
    check("update metadata: replaced, app_id kept", m["metadata"] == {"city": "lyon"} and m["app_id"] == "travel"
          and m["memory"] == "Alice lives in Lyon", m)
    h = call("history(paris)", client.history, paris)
    check("history: ADD then UPDATE, old and new memory",
          [e["event"] for e in h] == ["ADD", "UPDATE", "UPDATE"] and h[0]["new_memory"] == "Alice lives in Paris"
          and h[0]["old_memory"] is None and h[1]["old_memory"] == "Alice lives in Paris"
          and h[1]["new_memory"] == "Alice lives in Lyon" and h[2]["metadata"] == {"city": "lyon"}
          and all(e["memory_id"] == paris and e["user_id"] == "alice" and e["app_id"] == "travel" for e in h), h)

    # --- batch_update, batch_delete, delete
    r = call("batch_update([{violin, text}, {lovely, metadata}])", client.batch_update,
             [{"memory_id": violin, "text": "Bob plays the viola"}, {"memory_id": lovely, "metadata": {"who": "bot"}}])
    check("batch_update", r == {"message": "Successfully updated 2 memories"} and
          client.get(violin)["memory"] == "Bob plays the viola" and client.get(lovely)["metadata"] == {"who": "bot"}, r)
    r = call("batch_delete([{lovely}])", client.batch_delete, [{"memory_id": lovely}])
    check("batch_delete", r == {"message": "Successfully deleted 1 memories"} and count() == 5, r)
    r = call("delete(paris)", client.delete, paris)
    check("delete", r == {"message": "Memory deleted successfully!"} and count() == 4, r)
    raises("get(paris) after delete", MemoryNotFoundError, client.get, paris)
    h = call("history(paris) after delete", client.history, paris)
    check("history after delete: ends with DELETE", [e["event"] for e in h][-1] == "DELETE"
          and h[-1]["old_memory"] == "Alice lives in Lyon" and h[-1]["new_memory"] is None, h)

    # --- the namespace header: another project
    other = call("MemoryClient(host=URL, client=httpx.Client(headers={'X-Mnemo-Namespace':'team2'}))", MemoryClient,
                 api_key="k", host=srv.url, client=httpx.Client(headers={"X-Mnemo-Namespace": "team2"}))
    call("other.add('Dora paints', user_id='alice')", other.add, "Dora paints", user_id="alice")
    check("X-Mnemo-Namespace: its own project", other.project_id == "team2" and
          other.get_all()["count"] == 1 and count() == 4 and count(user_id="alice") == 1)

    # --- entities
    r = call("users()", client.users)
    ents = {(e["type"], e["name"]) for e in r["results"]}
    check("users: the entities with memories", ents == {("user", "alice"), ("user", "bob"), ("user", "carol"),
                                                        ("run", "r1"), ("agent", "tutor")}, ents)

    # --- bad input: the client's exception, nothing stored or deleted
    before = count()
    missing = "0" * 32
    raises("add([{'role':'user'}]) (no content)", ValidationError, client.add, [{"role": "user"}], user_id="x")
    raises("add('x', expiration_date='tomorrow')", ValidationError, client.add, "x", user_id="x",
           expiration_date="tomorrow")
    raises("add('x', metadata={'app_id':'a'})", ValidationError, client.add, "x", user_id="x", metadata={"app_id": "a"})
    raises("add('x', user_id='a', filters={'user_id':'b'})", ValidationError, client.add, "x", user_id="a",
           filters={"user_id": "b"})
    raises("add([ok, {'role':'user','content':''}], infer=False)", ValidationError, client.add,
           [{"role": "user", "content": "fine"}, {"role": "user", "content": ""}], user_id="x", infer=False)
    e = raises("search('x', filters={'foo':1})", ValidationError, client.search, "x", filters={"foo": 1})
    check("an unsupported filter names what is supported", e is not None and "Supported" in str(e), e)
    raises("search('x', filters={'user_id':{'gt':'a'}})", ValidationError, client.search, "x",
           filters={"user_id": {"gt": "a"}})
    raises("search('x', top_k=0)", ValidationError, client.search, "x", top_k=0)
    raises("search('x', filters={'user_id':{'in':[33 ids]}})", ValidationError, client.search, "x",
           filters={"user_id": {"in": [f"u{i}" for i in range(33)]}})
    raises("get_all(page_size=500)", ValidationError, client.get_all, page_size=500)
    raises("get_all(filters={'created_at':{'gte':'yesterday'}})", ValidationError, client.get_all,
           filters={"created_at": {"gte": "yesterday"}})
    raises(f"get(missing)", MemoryNotFoundError, client.get, missing)
    raises(f"update(missing, text='x')", MemoryNotFoundError, client.update, missing, text="x")
    raises("update(carol, metadata={'categories':1})", ValidationError, client.update, carol,
           metadata={"categories": 1})
    raises("update(carol, expiration_date='31/12/2099')", ValidationError, client.update, carol,
           expiration_date="31/12/2099")
    raises(f"delete(missing)", MemoryNotFoundError, client.delete, missing)
    raises(f"history(missing)", MemoryNotFoundError, client.history, missing)
    raises("delete_all() (no entity)", ValidationError, client.delete_all)
    raises("delete_all(filters={'created_at':{'gte':'2020-01-01'}})", ValidationError, client.delete_all,
           filters={"created_at": {"gte": "2020-01-01"}})
    raises("batch_update([{violin, text}, {missing, text}])", MemoryNotFoundError, client.batch_update,
           [{"memory_id": violin, "text": "changed"}, {"memory_id": missing, "text": "x"}])
    check("a failed batch_update changed nothing", client.get(violin)["memory"] == "Bob plays the viola")
    raises("batch_delete([{violin}, {missing}])", MemoryNotFoundError, client.batch_delete,
           [{"memory_id": violin}, {"memory_id": missing}])
    raises("batch_update(1001 items)", ValidationError, client.batch_update,
           [{"memory_id": violin, "text": "x"}] * 1001)
    raises("delete_users(user_id='nobody')", MemoryNotFoundError, client.delete_users, user_id="nobody")
    check("bad input stored and deleted nothing", count() == before and client.get(violin)["memory"] ==
          "Bob plays the viola", (before, count()))

    e = raises("feedback(tea, 'positive')  (not served)", MemoryNotFoundError, client.feedback, tea, "positive")
    check("a mem0 route mnemo does not serve: 404 naming the ones it does", e is not None and
          "mnemo serves" in str(e) and "/v3/memories/add/" in str(e), e)

    # --- the native routes are unchanged; a trailing slash picks mem0's
    code, _, body = raw(srv.url, "GET", f"/v1/memories/{tea}")
    check("GET /v1/memories/{id} (no slash): mnemo's own shape", code == 200 and body["text"] == "I like green tea",
          body)
    code, _, body = raw(srv.url, "GET", f"/v1/memories/{missing}")
    check("GET /v1/memories/{id} unknown: mnemo's error shape", code == 404 and "error" in body, body)
    code, hdrs, body = raw(srv.url, "PATCH", f"/v1/memories/{tea}/", {"text": "x"})
    check("PATCH /v1/memories/{id}/: mem0's 405 (never a redirect)", code == 405 and "detail" in body
          and hdrs["Allow"] == "GET, PUT, DELETE", (code, body))
    with urllib.request.urlopen(urllib.request.Request(srv.url + f"/v1/memories/{tea}/", method="HEAD"),
                                timeout=60) as resp:
        check("HEAD /v1/memories/{id}/: the GET's status, no body", resp.status == 200 and resp.read() == b"")
    code, _, body = raw(srv.url, "GET", "/v1/ping/", headers={"X-Mnemo-Namespace": "n" * 300})
    check("X-Mnemo-Namespace checked as a namespace (at most 256 bytes)", code == 413 and "256" in body["detail"],
          (code, body))

    # --- delete_all, delete_users, reset
    r = call("delete_all(user_id='bob')", client.delete_all, user_id="bob")
    check("delete_all(user_id='bob'): bob's gone, the rest kept", r["deleted"] == 2 and count(user_id="bob") == 0
          and count() == before - 2, (r, count()))
    r = call("delete_all(filters={'user_id':'carol'})  (the Python repr in the query)", client.delete_all,
             filters={"user_id": "carol"})
    check("delete_all with filters=: carol's gone", r["deleted"] == 1 and count(user_id="carol") == 0, r)
    r = call("delete_users(user_id='alice')", client.delete_users, user_id="alice")
    check("delete_users(user_id='alice')", count() == 0, (r, count()))
    r = call("other.reset()", other.reset)
    check("reset on the other namespace: empty", other.get_all()["count"] == 0, r)
finally:
    rc = srv.stop()
check("server stops cleanly", rc == 0)

# --- API keys: Token KEY is accepted, a wrong one is mem0's AuthenticationError
keys = os.path.join(WORK, "keys")
with open(keys, "w") as f:
    f.write("# mem0 test\nsecret-key\n")
srv = serve_util.Server(MNEMO, MODEL, "--data-dir", os.path.join(WORK, "data-auth"), "--api-key-file", keys)
try:
    client = call("MemoryClient(api_key='secret-key', host=URL)  (--api-key-file)", MemoryClient,
                  api_key="secret-key", host=srv.url)
    r = call("add('Eve keeps bees', user_id='eve')", client.add, "Eve keeps bees", user_id="eve")
    r = call("search('bees', filters={'user_id':'eve'})", client.search, "bees", filters={"user_id": "eve"})
    check("Token auth: add and search", len(r["results"]) == 1)
    try:
        call("MemoryClient(api_key='wrong', host=URL)", MemoryClient, api_key="wrong", host=srv.url)
        check("a wrong key at construction raises", False)
    except ValueError as e:  # the client's constructor turns a failed ping into ValueError("Error: <detail>")
        print(f"MemoryClient(api_key='wrong') -> ValueError: {str(e)[:160]}")
        check("a wrong key at construction: ValueError with the server's detail", "API key" in str(e), e)
    client.client.headers["Authorization"] = "Token wrong"
    raises("add('x') with a wrong key", AuthenticationError, client.add, "x", user_id="eve")
    client.client.headers["Authorization"] = "Token secret-key"
    check("the wrong key stored nothing", client.get_all()["count"] == 1)
finally:
    rc = srv.stop()
check("auth server stops cleanly", rc == 0)

shutil.rmtree(WORK, ignore_errors=True)
shutil.rmtree(HOME, ignore_errors=True)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed or not check.passed else 0)
