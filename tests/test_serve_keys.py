"""test_serve_keys.py — API keys bound to namespaces and roles, and an attack
suite against them, on the real server.

The key file gives an admin key, a write key and a read key for namespace
"acme", a key for "acme" and "beta", an embed-only key and a "beta" key that
is revoked later. With the admin key, memories go into acme, beta, default
and look-alike namespaces ("ACME", "аcme" with a Cyrillic a, "acme "). Then
each attack is tried with a scoped key, and each must be refused (403, or
404 exactly as for an unknown id) or see nothing outside its namespaces:
other namespaces' ids by get / update / delete / history (native and mem0
routes), scopes naming another namespace (search, list, count, delete by
filter), filters and metadata crafted to escape ($or with a namespace field,
a "namespace" key in metadata), JSON with duplicate "namespace" keys,
look-alike and case-changed namespace names, a batch add that mixes
namespaces, MCP tool calls naming another namespace or id, roles (read keys
cannot write, embed keys cannot touch memories, only admin keys back up),
and a key revoked by SIGHUP (while a connection opened before stays open).
After every attack the other namespaces' memories are checked unchanged.
The suite prints how many attacks it tried. The log never holds a key.
Standard library only.

usage: python3 test_serve_keys.py MNEMO MODEL_DIR WORK_DIR
"""
import http.client
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402

MNEMO, MODEL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
WORK = os.path.join(WORK, f"keys-{os.getpid()}")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
K = {n: f"sk-{n}-7d1f0c3e9b2a4f68a1c5e0d94b7f3a26" for n in
     ("admin", "acme", "acmeread", "two", "embed", "beta")}
KEYFILE = os.path.join(WORK, "keys")
LINES = [f"{K['admin']}",  # a plain key: every namespace, admin
         f"{K['acme']} name=acme-writer namespaces=acme role=write",
         f"{K['acmeread']} name=acme-reader namespaces=acme role=read",
         f"# a comment line",
         f"{K['two']} name=two namespaces=acme,beta role=write",
         f"{K['embed']} name=embedder role=embed",
         f"{K['beta']}  name=beta-writer   namespaces=beta role=write"]
open(KEYFILE, "w").write("\n".join(LINES) + "\n")

check = serve_util.Checks()
srv = serve_util.Server(MNEMO, MODEL, "--data-dir", os.path.join(WORK, "data"), "--api-key-file", KEYFILE,
                        "--backup-dir", os.path.join(WORK, "backups"), "--no-dedup")
MODEL_NAME = os.path.basename(MODEL.rstrip("/"))


def call(key, method, path, body=None, raw=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {K[key]}"
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    if not conn:
        c.close()
    try:
        return r.status, json.loads(text) if text else None
    except ValueError:
        return r.status, text


def add(ns, text, meta=None, key="admin"):
    status, body = call(key, "POST", "/v1/memories", {"text": text, "namespace": ns, "metadata": meta or {}})
    assert status == 200, (status, body)
    return body["data"][0]["id"]


ids = {ns: add(ns, f"the secret plan of {ns!r}", {"owner": ns}) for ns in
       ("acme", "beta", "default", "ACME", "\u0430cme", "acme ")}
decoy = add("acme", "an acme memory that says it is beta's", {"namespace": "beta"})
UNKNOWN = "0123456789abcdef0123456789abcdef"


def snapshot():
    """Every memory the admin sees, by namespace: what an attack must leave alone."""
    out = {}
    for ns in ("acme", "beta", "default", "ACME", "\u0430cme", "acme "):
        st, b = call("admin", "GET", "/v1/memories?limit=1000&namespace=" + urlq(ns))
        assert st == 200, (st, b)
        out[ns] = sorted((m["id"], m["text"], json.dumps(m["metadata"], sort_keys=True)) for m in b["data"])
    return out


def urlq(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


before = snapshot()
tried = 0


def attack(name, ok, detail=""):
    global tried
    tried += 1
    check(f"attack: {name}", ok, detail)


def not_found_like_unknown(key, method, path_tmpl, body=None, headers=None):
    """The answer for another namespace's id equals the one for an id that never existed."""
    s1, b1 = call(key, method, path_tmpl.format(id=ids["beta"]), body, headers=headers)
    s2, b2 = call(key, method, path_tmpl.format(id=UNKNOWN), body, headers=headers)
    norm = lambda b: json.dumps(b, sort_keys=True).replace(ids["beta"], "ID").replace(UNKNOWN, "ID")
    return s1 == s2 == 404 and norm(b1) == norm(b2), f"{s1} {b1} / {s2} {b2}"


# --- ids of another namespace, native routes
for method, path, body in (("GET", "/v1/memories/{id}", None), ("PATCH", "/v1/memories/{id}", {"text": "pwned"}),
                           ("DELETE", "/v1/memories/{id}", None), ("GET", "/v1/memories/{id}/history", None)):
    ok, detail = not_found_like_unknown("acme", method, path, body)
    attack(f"{method} {path} of beta's id with the acme key: 404 as an unknown id", ok, detail)
# enumerating: every id of every other namespace, by get
for ns, i in ids.items():
    if ns == "acme":
        continue
    st, b = call("acme", "GET", f"/v1/memories/{i}")
    attack(f"get {ns!r}'s id with the acme key: 404", st == 404, f"{st} {b}")
st, b = call("acme", "GET", f"/v1/memories/{ids['acme']}")
check("the acme key reads its own memory", st == 200 and b["namespace"] == "acme", f"{st} {b}")

# --- scopes naming another namespace
for ns in ("beta", "default", "ACME", "\u0430cme", "acme ", "Acme", "acme\u200b", "*", ""):
    q = urlq(ns)
    for what, (method, path, body) in {
            "search": ("POST", "/v1/memories/search", {"query": "secret plan", "namespace": ns, "k": 50}),
            "list": ("GET", f"/v1/memories?namespace={q}", None),
            "count": ("GET", f"/v1/memories/count?namespace={q}", None),
            "delete by filter": ("POST", "/v1/memories/delete", {"namespace": ns, "filter": {}})}.items():
        st, b = call("acme", method, path, body)
        attack(f"{what} in namespace {ns!r} with the acme key: 403", st == 403, f"{st} {b}")
# no namespace means "default", which the acme key does not have
st, b = call("acme", "POST", "/v1/memories/search", {"query": "secret plan"})
attack("search with no namespace (default) with the acme key: 403", st == 403, f"{st} {b}")

# --- filters and metadata crafted to escape: results only from acme
for flt in ({"$or": [{"namespace": "beta"}, {"owner": "beta"}]}, {"namespace": "beta"}, {"owner": {"$ne": "x"}},
            {"$or": [{"owner": "acme"}, {"owner": "beta"}, {"owner": "default"}]}, {}):
    st, b = call("acme", "POST", "/v1/memories/search",
                 {"query": "secret plan", "namespace": "acme", "k": 100, "filter": flt, "mode": "hybrid"})
    nss = {m["namespace"] for m in b["data"]} if st == 200 else set()
    attack(f"search acme with filter {json.dumps(flt)}: only acme", st in (200, 400) and nss <= {"acme"},
           f"{st} {nss}")
    st, b = call("acme", "GET", "/v1/memories?namespace=acme&filter=" + urlq(json.dumps(flt)))
    nss = {m["namespace"] for m in b["data"]} if st == 200 else set()
    attack(f"list acme with filter {json.dumps(flt)}: only acme", st in (200, 400) and nss <= {"acme"}, f"{st} {nss}")

# --- JSON with duplicate keys: either refused, or the namespace the check saw is the one used
raw = '{"query": "secret plan", "namespace": "acme", "namespace": "beta", "k": 50}'
st, b = call("acme", "POST", "/v1/memories/search", raw=raw)
nss = {m["namespace"] for m in b["data"]} if st == 200 else set()
attack("search with duplicate namespace keys (acme, beta): refused or only acme", st in (400, 403) or nss <= {"acme"},
       f"{st} {nss}")
raw = '{"query": "secret plan", "namespace": "beta", "namespace": "acme", "k": 50}'
st, b = call("acme", "POST", "/v1/memories/search", raw=raw)
nss = {m["namespace"] for m in b["data"]} if st == 200 else set()
attack("search with duplicate namespace keys (beta, acme): refused or only acme", st in (400, 403) or nss <= {"acme"},
       f"{st} {nss}")
raw = '{"text": "dup", "namespace": "acme", "namespace": "beta"}'
st, b = call("acme", "POST", "/v1/memories", raw=raw)
attack("add with duplicate namespace keys: refused, or stored in acme",
       st in (400, 403) or (st == 200 and call("admin", "GET", f"/v1/memories/{b['data'][0]['id']}")[1]["namespace"] == "acme"),
       f"{st} {b}")

# --- a batch add that mixes namespaces: refused whole, nothing stored
n_acme = call("admin", "GET", "/v1/memories/count?namespace=acme")[1]["count"]
st, b = call("acme", "POST", "/v1/memories", {"memories": [{"text": "ok one", "namespace": "acme"},
                                                          {"text": "sneaky", "namespace": "beta"}]})
attack("batch add into acme and beta with the acme key: 403", st == 403, f"{st} {b}")
attack("... and nothing of it stored", call("admin", "GET", "/v1/memories/count?namespace=acme")[1]["count"] == n_acme)

# --- MCP naming another namespace or id
def mcp(key, tool, args):
    st, b = call(key, "POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                       "params": {"name": tool, "arguments": args}})
    return st, b


for tool, args in (("memory_search", {"query": "secret plan", "namespace": "beta"}),
                   ("memory_list", {"namespace": "beta"}),
                   ("memory_add", {"text": "via mcp", "namespace": "beta"}),
                   ("memory_get", {"id": ids["beta"]}),
                   ("memory_update", {"id": ids["beta"], "text": "pwned"}),
                   ("memory_delete", {"id": ids["beta"]}),
                   ("search_memory", {"query": "secret plan"}),
                   ("list_memories", {}),
                   ("delete_all_memories", {})):
    st, b = mcp("acme", tool, args)
    res = (b or {}).get("result", {})
    text = json.dumps(res)
    leaked = ids["beta"] in text or "plan of 'beta'" in text  # beta's id or its text
    attack(f"MCP {tool} {json.dumps(args)[:60]} with the acme key: an error or nothing of beta",
           st == 200 and (res.get("isError") or not leaked) and "pwned" not in text, f"{st} {text[:300]}")

# --- mem0's routes
st, b = call("acme", "POST", "/v3/memories/search/", {"query": "secret plan", "filters": {"user_id": "*"}},
             headers={"X-Mnemo-Namespace": "beta"})
attack("mem0 search with X-Mnemo-Namespace: beta and the acme key: 403", st == 403, f"{st} {b}")
for method, path in (("GET", "/v1/memories/{id}/"), ("DELETE", "/v1/memories/{id}/"),
                     ("GET", "/v1/memories/{id}/history/")):
    ok, detail = not_found_like_unknown("acme", method, path, headers={"X-Mnemo-Namespace": "acme"})
    attack(f"mem0 {method} {path} of beta's id with the acme key: 404 as an unknown id", ok, detail)
st, b = call("acme", "PUT", "/v1/batch/", {"memories": [{"memory_id": ids["beta"], "text": "pwned"}]},
             headers={"X-Mnemo-Namespace": "acme"})
attack("mem0 batch update of beta's id with the acme key: 404", st == 404, f"{st} {b}")

# --- roles
st, b = call("acmeread", "POST", "/v1/memories", {"text": "no", "namespace": "acme"})
attack("add with the read key: 403", st == 403, f"{st} {b}")
st, b = call("acmeread", "DELETE", f"/v1/memories/{ids['acme']}")
attack("delete with the read key: 403", st == 403, f"{st} {b}")
st, b = call("acmeread", "POST", "/v1/memories/search", {"query": "secret plan", "namespace": "acme"})
check("the read key searches its namespace", st == 200 and {m["namespace"] for m in b["data"]} == {"acme"}, f"{st} {b}")
st, b = call("embed", "GET", "/v1/memories?namespace=acme")
attack("list with the embed key: 403", st == 403, f"{st} {b}")
st, b = mcp("embed", "memory_search", {"query": "x", "namespace": "acme"})
attack("MCP search with the embed key: an error", st == 200 and b["result"].get("isError"), f"{st} {b}")
st, b = call("embed", "POST", "/v1/embeddings", {"input": "hello", "model": MODEL_NAME})
check("the embed key embeds", st == 200 and len(b["data"][0]["embedding"]) > 0, f"{st}")
for key in ("acme", "two", "acmeread"):
    st, b = call(key, "POST", "/v1/admin/backup")
    attack(f"backup with the {key} key: 403", st == 403, f"{st} {b}")
st, b = call("admin", "POST", "/v1/admin/backup")
check("backup with the admin key: 200", st == 200 and b["integrity"] == "ok", f"{st} {b}")
st, b = call("two", "POST", "/v1/memories/search", {"query": "secret plan", "namespace": "beta"})
check("a key with two namespaces reads the second", st == 200 and {m["namespace"] for m in b["data"]} == {"beta"})

# --- nothing changed outside the attacker's namespaces
after = snapshot()
for ns in before:
    if ns == "acme":
        continue
    check(f"namespace {ns!r} unchanged by every attack", after[ns] == before[ns])

# --- a revoked key after SIGHUP, with a connection opened before it staying open
keep = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
st, b = call("beta", "GET", "/v1/memories?namespace=beta", conn=keep)
check("the beta key works before the reload", st == 200)
open(KEYFILE, "w").write("\n".join(line for line in LINES if K["beta"] not in line) + "\n")
srv.proc.send_signal(signal.SIGHUP)
deadline = time.time() + 10
while time.time() < deadline and call("beta", "GET", "/v1/memories?namespace=beta")[0] != 401:
    time.sleep(0.1)
st, b = call("beta", "GET", "/v1/memories?namespace=beta", conn=keep)
attack("the revoked key after SIGHUP: 401, on a connection opened before", st == 401, f"{st} {b}")
st, b = call("acme", "GET", "/v1/memories?namespace=acme", conn=keep)
check("other keys still work after the reload, on the same connection", st == 200, f"{st}")
keep.close()
# a key file that no longer parses: the keys in force stay
open(KEYFILE, "a").write(f"{K['beta']} role=superuser\n")
srv.proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
st, b = call("acme", "GET", "/v1/memories?namespace=acme")
check("a bad key file on reload keeps the keys in force", st == 200, f"{st}")
check("server still up after SIGHUPs", srv.proc.poll() is None)

log = srv.text_log()
check("the log never holds a key", not any(k in log for k in K.values()))
check("server exits cleanly", srv.stop() == 0)
print(f"attack suite: {tried} attacks tried; {check.failed} checks failed")
shutil.rmtree(WORK, ignore_errors=True)
print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)
