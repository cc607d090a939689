"""test_console_browser.py — the web console of `mnemo serve` in a real browser.

Debian's chromium (headless) driven by selenium through chromedriver, against
the real server on the tiny model with --data-dir: the page loads with no
console errors (the browser's log); a similarity matrix is drawn for three
texts, and a comparison of two dimensions shows how ranking changes; a memory
is added (and one with a prompt picked from GET /info), found by a search with the query words highlighted, its history
opened and it is deleted; the status tab shows a non-zero request count; the
tabs work from the keyboard; the page fits a phone's width; the /docs page
renders every operation of /openapi.json; the files carry their
Content-Type, ETag (304 on If-None-Match) and a Content-Security-Policy.
With --api-key the page asks for a key, refuses a wrong one, works with the
right one and stores it nowhere (no localStorage, sessionStorage or cookie).
Screenshots go to ARTIFACTS. A missing chromium or chromedriver fails.

usage: python test_console_browser.py MNEMO MODEL_DIR WORK_DIR ARTIFACTS
"""
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_util  # noqa: E402 (by path: the tests' own helper, standard library only)

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

MNEMO, MODEL, WORK, ARTIFACTS = sys.argv[1:5]
check = serve_util.Checks()  # check(name, ok, detail): counts, prints a FAIL line


def Server(*args):
    return serve_util.Server(MNEMO, MODEL, *args)


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


for tool in ("chromium", "chromedriver"):
    if not shutil.which(tool):
        print(f"FAIL: {tool} is missing (scripts/install-deps.sh --test installs chromium and chromium-driver)",
              file=sys.stderr)
        sys.exit(1)
os.makedirs(ARTIFACTS, exist_ok=True)


def browser(width=1280, height=1000):
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    d.set_page_load_timeout(60)
    return d


def errors(d, allow=()):
    """The browser log's errors (console.error, uncaught exceptions, failed loads), minus `allow`."""
    return [e for e in d.get_log("browser")
            if e["level"] in ("SEVERE", "ERROR") and not any(a in e["message"] for a in allow)]


def wait(d, cond, timeout=30):
    try:
        WebDriverWait(d, timeout).until(lambda _: cond())
        return True
    except Exception:
        return False


def shot(d, name):
    d.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))


def matrix_values(d, box):
    return [float(td.get_attribute("data-value")) for td in d.find_elements(By.CSS_SELECTOR, f"#{box} td")]


srv = Server("--data-dir", os.path.join(WORK, "console-browser-data"))

# --- the files: Content-Type, ETag and 304, the CSP that forbids other origins
for path, ctype in (("/", "text/html"), ("/docs", "text/html"), ("/openapi.json", "application/json"),
                    ("/console/app.js", "text/javascript"), ("/console/docs.js", "text/javascript"),
                    ("/console/dom.js", "text/javascript"),
                    ("/console/style.css", "text/css")):
    code, h, body = get(srv.url + path)
    check(f"GET {path}: 200 {ctype}", code == 200 and h.get("Content-Type", "").startswith(ctype), f"{code} {h}")
    csp = h.get("Content-Security-Policy", "")
    check(f"{path}: CSP allows only this origin", "default-src 'none'" in csp and "script-src 'self'" in csp
          and "connect-src 'self'" in csp and "http" not in csp, csp)
    check(f"{path}: nosniff, no-cache", h.get("X-Content-Type-Options") == "nosniff" and h.get("Cache-Control") == "no-cache")
    etag = h.get("ETag", "")
    code2, _, body2 = get(srv.url + path, {"If-None-Match": etag})
    check(f"{path}: 304 for its ETag", re.fullmatch(r'"[0-9a-f]{16}"', etag) and code2 == 304 and body2 == b"", f"{etag} {code2}")
    code3, _, _ = get(srv.url + path, {"If-None-Match": '"0000000000000000"'})
    check(f"{path}: 200 for another ETag", code3 == 200)
    check(f"{path}: names no external URL", b"http://" not in body and b"https://" not in body)

d = browser()
try:
    # --- the page loads with no console errors
    d.get(srv.url + "/")
    check("prompts loaded from /info", wait(d, lambda: len(Select(d.find_element(By.ID, "prompt-a")).options) > 1))
    check("title", d.title == "mnemo console")
    errs = errors(d)
    check("no console errors on load", not errs, errs)

    # --- a similarity matrix for three texts
    texts = ["Mars is the red planet", "Venus is the hottest planet", "Paris is the capital of France"]
    box = d.find_element(By.ID, "texts")
    box.clear()
    box.send_keys("\n".join(texts))
    d.find_element(By.ID, "embed-run").click()
    check("matrix drawn: 3 x 3 cells", wait(d, lambda: len(matrix_values(d, "matrix-a")) == 9))
    vals = matrix_values(d, "matrix-a")
    check("diagonal is 1", len(vals) == 9 and all(abs(vals[i * 4] - 1) < 1e-3 for i in range(3)), vals)
    check("symmetric", len(vals) == 9 and all(abs(vals[i * 3 + j] - vals[j * 3 + i]) < 1e-6 for i in range(3) for j in range(3)))
    cells = d.find_elements(By.CSS_SELECTOR, "#matrix-a td")
    check("cells coloured", len(cells) == 9 and all("rgb" in c.value_of_css_property("background-color") for c in cells)
          and cells[0].value_of_css_property("background-color") != cells[1].value_of_css_property("background-color"))
    d.execute_script("arguments[0].focus()", cells[1])  # a focused cell (keyboard) shows its value
    check("a focused cell shows its value", wait(d, lambda: f"{vals[1]:.4f}" in d.find_element(By.ID, "cell-info").text),
          d.find_element(By.ID, "cell-info").text)
    shot(d, "embeddings")
    # the same matrix the API gives: the cosine of /v1/embeddings vectors
    prompt = Select(d.find_element(By.ID, "prompt-a")).first_selected_option.get_attribute("value")
    dim = int(Select(d.find_element(By.ID, "dim-a")).first_selected_option.text)
    body = {"input": texts, "dimensions": dim, **({"task": prompt} if prompt else {})}
    req = urllib.request.Request(srv.url + "/v1/embeddings", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    vecs = [e["embedding"] for e in json.loads(urllib.request.urlopen(req).read())["data"]]
    cos = sum(a * b for a, b in zip(vecs[0], vecs[1]))
    check("matrix value = cosine from the API", len(vals) == 9 and abs(vals[1] - cos) < 1e-4, f"{vals[1]} {cos}")

    # --- two dimensions side by side, and the ranking table
    Select(d.find_element(By.ID, "compare")).select_by_value("dim")
    dim_b = Select(d.find_element(By.ID, "dim-b"))
    dim_b.select_by_index(len(dim_b.options) - 1)
    d.find_element(By.ID, "embed-run").click()
    check("second matrix drawn", wait(d, lambda: len(matrix_values(d, "matrix-b")) == 9))
    check("ranking comparison shown", wait(d, lambda: d.find_element(By.ID, "ranking").is_displayed()
                                           and "nearest neighbour" in d.find_element(By.ID, "ranking-summary").text))
    check("ranking table: a row per text", len(d.find_elements(By.CSS_SELECTOR, "#ranking-table tbody tr")) == 3)
    shot(d, "embeddings-compare")

    # --- the tabs from the keyboard
    tab = d.find_element(By.ID, "tab-embed")
    tab.send_keys(Keys.ARROW_RIGHT)
    check("ArrowRight moves to Memories", wait(d, lambda: d.find_element(By.ID, "tab-memories").get_attribute("aria-selected") == "true"
                                              and d.switch_to.active_element.get_attribute("id") == "tab-memories"))
    check("the memories panel shows", d.find_element(By.ID, "panel-memories").is_displayed()
          and not d.find_element(By.ID, "panel-embed").is_displayed())
    check("the store is on: no notice", not d.find_element(By.ID, "store-off").is_displayed())

    # --- a memory added, then found by a search
    d.find_element(By.ID, "add-text").send_keys("The fig tree grows sweet purple fruit")
    d.find_element(By.ID, "add-ns").send_keys("browser")
    d.find_element(By.ID, "add-meta").send_keys('{"topic": "food"}')
    d.find_element(By.ID, "add-run").click()
    check("added", wait(d, lambda: "Added as" in d.find_element(By.ID, "add-msg").text), d.find_element(By.ID, "add-msg").text)
    mid = d.find_element(By.ID, "add-msg").text.split()[-1]
    d.find_element(By.ID, "add-meta").clear()
    d.find_element(By.ID, "add-meta").send_keys("[1, 2")
    d.find_element(By.ID, "add-run").click()
    check("bad metadata JSON: says so", wait(d, lambda: "not valid JSON" in d.find_element(By.ID, "add-msg").text))
    # --- a memory added with a prompt picked from GET /info's (its prompt_name is kept)
    _, _, info = get(srv.url + "/info")
    pick = next(n for n in json.loads(info)["prompts"] if n != "document")
    prompt_sel = Select(d.find_element(By.ID, "add-prompt"))
    check("the add form offers GET /info's prompts", wait(d, lambda: pick in [o.get_attribute("value") for o in prompt_sel.options]))
    for field in ("add-text", "add-meta"):
        d.find_element(By.ID, field).clear()
    d.find_element(By.ID, "add-text").send_keys("Tomatoes ripen red on the vine")
    prompt_sel.select_by_value(pick)
    d.find_element(By.ID, "add-run").click()
    check("added with a prompt", wait(d, lambda: "Added as" in d.find_element(By.ID, "add-msg").text), d.find_element(By.ID, "add-msg").text)
    pid = d.find_element(By.ID, "add-msg").text.split()[-1]
    code, _, body = get(srv.url + "/v1/memories/" + pid)
    check("its prompt_name is the one picked", code == 200 and json.loads(body).get("prompt_name") == pick, body[:300])
    with urllib.request.urlopen(urllib.request.Request(srv.url + "/v1/memories/" + pid, method="DELETE"), timeout=30) as r:
        check("the memory with a prompt deleted (a rerun adds it anew)", r.status == 200, r.status)
    prompt_sel.select_by_value("")
    d.find_element(By.ID, "search-q").send_keys("sweet fruit")
    Select(d.find_element(By.ID, "search-mode")).select_by_visible_text("text")
    d.find_element(By.ID, "search-ns").send_keys("browser")
    d.find_element(By.ID, "search-filter").send_keys('{"topic": "food"}')
    d.find_element(By.ID, "search-run").click()
    check("found by a search", wait(d, lambda: any(li.get_attribute("data-id") == mid for li in d.find_elements(By.CSS_SELECTOR, "#results li"))))
    marks = [m.text.lower() for m in d.find_elements(By.CSS_SELECTOR, "#results li mark")]
    check("query words highlighted", "sweet" in marks and "fruit" in marks, marks)
    scores = d.find_elements(By.CSS_SELECTOR, "#results .score")
    check("a score shown", scores and re.fullmatch(r"-?\d+\.\d{4}", scores[0].text), [s.text for s in scores])
    d.find_element(By.CSS_SELECTOR, "#results li .actions button").click()
    check("history shows the add", wait(d, lambda: d.find_element(By.ID, "history-box").is_displayed()
                                        and "added" in d.find_element(By.ID, "history").text))
    shot(d, "memories")
    d.find_element(By.CSS_SELECTOR, "#results li .actions button.danger").click()
    check("deleted from the page", wait(d, lambda: not d.find_elements(By.CSS_SELECTOR, "#results li")))
    code, _, _ = get(srv.url + "/v1/memories/" + mid)
    check("deleted in the store", code == 404, code)

    # --- status: live numbers from the server
    d.find_element(By.ID, "tab-status").click()
    check("status: a non-zero request count", wait(d, lambda: d.find_element(By.ID, "st-requests").text.isdigit()
                                                   and int(d.find_element(By.ID, "st-requests").text) > 0))
    first = int(d.find_element(By.ID, "st-requests").text)
    check("status: precision and kernels", d.find_element(By.ID, "st-precision").text not in ("", "—")
          and d.find_element(By.ID, "st-kernels").text not in ("", "—"))
    check("status: latency percentiles", "/" in d.find_element(By.ID, "st-latency").text)
    check("status refreshes live", wait(d, lambda: int(d.find_element(By.ID, "st-requests").text) > first, 10))
    check("status: a request rate", "requests/s" in d.find_element(By.ID, "st-rate").text)
    shot(d, "status")
    errs = errors(d)
    check("no console errors after using every tab", not errs, errs)

    # --- /docs: every operation of the document
    d.get(srv.url + "/docs")
    doc = json.loads(get(srv.url + "/openapi.json")[2])
    n_ops = sum(1 for item in doc["paths"].values() for m in item if m in ("get", "post", "put", "patch", "delete"))
    check("/docs renders every operation", wait(d, lambda: d.find_element(By.ID, "doc-count").text == f"{n_ops} operations."))
    check("/docs: one section per operation", len(d.find_elements(By.CSS_SELECTOR, "section.op")) == n_ops)
    check("/docs: schemas listed", len(d.find_elements(By.CSS_SELECTOR, "#doc-schemas h3")) == len(doc["components"]["schemas"]))
    shot(d, "docs")
    errs = errors(d)
    check("/docs: no console errors", not errs, errs)
finally:
    d.quit()

# --- a phone: no sideways scrolling
d = browser(390, 844)
try:
    d.get(srv.url + "/")
    wait(d, lambda: len(Select(d.find_element(By.ID, "prompt-a")).options) > 1)
    d.find_element(By.ID, "embed-run").click()
    wait(d, lambda: len(matrix_values(d, "matrix-a")) == 9)
    width = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check("fits a phone's width", width[0] <= width[1] + 1, width)
    shot(d, "phone")
finally:
    d.quit()
check("server stops cleanly", srv.stop() == 0)

# --- with --api-key: the page asks, refuses a wrong key, works with the right one
srv = Server("--api-key", "s3cret-key")
d = browser()
try:
    code, _, _ = get(srv.url + "/")
    check("the page itself needs no key", code == 200)
    code, _, _ = get(srv.url + "/info")
    check("the API does", code == 401)
    d.get(srv.url + "/")
    check("asks for a key", wait(d, lambda: d.find_element(By.ID, "key-box").is_displayed()))
    check("the key field has focus", d.switch_to.active_element.get_attribute("id") == "key-input")
    shot(d, "key-prompt")
    d.find_element(By.ID, "key-input").send_keys("wrong-key")
    d.find_element(By.ID, "key-submit").click()
    check("a wrong key is refused", wait(d, lambda: "refused" in d.find_element(By.ID, "key-msg").text
                                         and d.find_element(By.ID, "key-box").is_displayed()))
    d.find_element(By.ID, "key-input").send_keys("s3cret-key" + Keys.ENTER)
    check("the right key: prompts load", wait(d, lambda: not d.find_element(By.ID, "key-box").is_displayed()
                                              and len(Select(d.find_element(By.ID, "prompt-a")).options) > 1))
    d.find_element(By.ID, "embed-run").click()
    check("with the key: a matrix", wait(d, lambda: len(matrix_values(d, "matrix-a")) == 9))
    stored = d.execute_script("return [localStorage.length, sessionStorage.length, document.cookie]")
    check("the key is stored nowhere", stored == [0, 0, ""], stored)
    check("the key is not in the page", "s3cret-key" not in d.page_source)
    d.find_element(By.ID, "tab-memories").click()
    d.find_element(By.ID, "search-q").send_keys("x" + Keys.ENTER)
    check("no --data-dir: the page says so", wait(d, lambda: d.find_element(By.ID, "store-off").is_displayed()))
    shot(d, "key-and-no-store")
    errs = errors(d, allow=("401", "503"))  # the refusals the test asked for
    check("no other console errors", not errs, errs)
finally:
    d.quit()
check("keyed server stops cleanly", srv.stop() == 0)

print(f"{check.passed} passed, {check.failed} failed (screenshots in {ARTIFACTS})")
sys.exit(1 if check.failed or not check.passed else 0)
