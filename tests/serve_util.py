"""serve_util.py — for the Python tests of `mnemo serve`: start the server and
wait until it serves (Server; start, listening_port, wait_healthy), count
checks (Checks), and the vectors `mnemo embed` gives to compare the server's
answers with (mnemo_embed, max_diff).

The Python tests of the server (test_console_browser.py, test_openapi.py,
test_serve_clients.py, test_serve_kill.py) run under different interpreters
and venvs, so this module uses the standard library only; a test imports it
by path:

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import serve_util

Every server started here is killed when the test exits, if it is still up.
"""
import atexit
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RUNNING = []  # every process started by start(): killed at exit if still running
atexit.register(lambda: [p.kill() for p in RUNNING if p.poll() is None])

LISTENING = re.compile(rb"listening on http://\S+:(\d+) ")


def start(argv, log):
    """Starts argv with stdout and stderr into the open file log; the process."""
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    RUNNING.append(proc)
    return proc


def listening_port(log_path, proc=None, timeout=20.0, poll=0.05):
    """The port the server logged ("listening on http://HOST:PORT ", as it does
    for --port 0); None when it did not within timeout seconds, or proc ended."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (proc is None or proc.poll() is None):
        with open(log_path, "rb") as f:
            m = LISTENING.search(f.read())
        if m:
            return int(m.group(1))
        time.sleep(poll)
    return None


def wait_healthy(url, proc=None, timeout=120.0, poll=0.05):
    """True once GET url/health answers 200 (the model is loaded); False when it
    did not within timeout seconds, or proc ended."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (proc is None or proc.poll() is None):
        try:
            with urllib.request.urlopen(url + "/health", timeout=30) as r:
                if r.status == 200:
                    return True
        except OSError:  # refused, reset, or an HTTP error status (503 while loading)
            pass
        time.sleep(poll)
    return False


class Checks:
    """check = Checks(); check(name, ok, detail=""): counts a pass or a
    failure (check.passed, check.failed), a failure with a FAIL line on stderr."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {name} {detail}", file=sys.stderr)


class Server:
    """`MNEMO serve --model MODEL --port 0 ARGS...`, its output in a temporary
    log file; ready (GET /health is 200) when the constructor returns, at
    self.url (http://127.0.0.1:PORT)."""

    def __init__(self, mnemo, model, *args):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = start([mnemo, "serve", "--model", model, "--port", "0", *args], self.log)
        self.port = listening_port(self.log.name, self.proc)
        assert self.port, self.text_log()
        self.url = f"http://127.0.0.1:{self.port}"
        assert wait_healthy(self.url, self.proc), self.text_log()

    def text_log(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM and wait (60 s at most); the exit status. Removes the log."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        os.unlink(self.log.name)
        return rc


def mnemo_embed(mnemo, model, texts, *args):
    """`MNEMO embed --model MODEL ARGS... TEXTS...`: the vectors the server's
    answers are compared with (one list of floats per text)."""
    out = subprocess.run([mnemo, "embed", "--model", model, *args, *texts],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def max_diff(a, b):
    """The largest |a - b| over two lists of vectors; inf when their shapes differ."""
    if len(a) != len(b) or any(len(u) != len(v) for u, v in zip(a, b)):
        return math.inf
    return max((abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v)), default=0.0)
