#!/usr/bin/env python3
"""Checks the live dashboard (`GET /`) in headless Chromium through the DevTools protocol.

Usage: dashboard_check.py BASE_URL TOKEN EXPECT_HOST EXPECT_RULE SCREENSHOT_PATH

Opens BASE_URL/, enters a wrong token and waits for the 401 message in #auth-error, enters TOKEN,
then waits until #hosts has a row for EXPECT_HOST and #alerts an item for EXPECT_RULE, and saves a
screenshot. A JavaScript dialog or an uncaught page exception fails the check (the page shows
untrusted text). Prints `dashboard: ok hosts=N alerts=N` (exit 0) or `dashboard: FAIL <reason>`
(exit 1). Every wait is bounded; the whole check takes under 60 s. Needs `chromium` (or
`chromium-browser`) and the websocket-client module (Debian: python3-websocket).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import websocket
except ImportError:
    # Debian's python3-websocket is only visible to the system interpreter (not e.g. pyenv's).
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("dashboard: FAIL python module 'websocket' missing (apt-get install python3-websocket)")
    sys.exit(1)

DEADLINE = time.monotonic() + 55  # the whole check


class Fail(Exception):
    pass


def remaining(limit):
    """The smaller of `limit` seconds and what is left of the overall deadline."""
    return max(0.0, min(limit, DEADLINE - time.monotonic()))


class Page:
    """A DevTools connection to one page target."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True)
        self.next_id = 0
        self.problems = []  # dialogs opened and exceptions thrown by the page

    def call(self, method, timeout=10, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        end = time.monotonic() + remaining(timeout)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise Fail(f"no answer to {method}")
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                raise Fail(f"no answer to {method}")
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise Fail(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            self.event(msg)

    def event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Page.javascriptDialogOpening":
            self.problems.append(f"page opened a {params.get('type')} dialog: {params.get('message')!r}")
            self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": True}}))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"page exception: {text}")

    def eval(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise Fail(f"evaluating {expression!r}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, what, limit):
        """Polls `expression` every 0.25 s until it is truthy; fails naming `what` after `limit` s."""
        end = time.monotonic() + remaining(limit)
        while True:
            if self.problems:
                raise Fail(self.problems[0])
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() >= end:
                raise Fail(f"timed out waiting for {what}")
            time.sleep(0.25)


def start_chromium(user_data):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        raise Fail("no chromium or chromium-browser on PATH")
    args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-default-browser-check", "--window-size=1280,1000",
            "--remote-debugging-port=0", f"--user-data-dir={user_data}", "about:blank"]
    # Its own process group, so the browser's helper processes are killed with it.
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(user_data, "chromium.log"), "wb"), start_new_session=True)


def devtools_port(proc, user_data):
    path = os.path.join(user_data, "DevToolsActivePort")
    end = time.monotonic() + remaining(30)
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise Fail(f"chromium exited with status {proc.returncode}")
        try:
            with open(path) as f:
                first = f.readline().strip()
            if first.isdigit():
                return int(first)
        except OSError:
            pass
        time.sleep(0.1)
    raise Fail("chromium wrote no DevToolsActivePort")


def page_target(port):
    end = time.monotonic() + remaining(10)
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5) as r:
            targets = json.load(r)
        for t in targets:
            if t.get("type") == "page" and t.get("webSocketDebuggerUrl"):
                return t["webSocketDebuggerUrl"]
        if time.monotonic() >= end:
            raise Fail("chromium has no page target")
        time.sleep(0.2)


def enter_token(page, token):
    page.eval(f"document.getElementById('token').value = {json.dumps(token)};"
              "document.getElementById('connect').click(); true")


def check(base_url, token, host, rule, screenshot, user_data):
    proc = start_chromium(user_data)
    try:
        page = Page(page_target(devtools_port(proc, user_data)))
        page.call("Page.enable")
        page.call("Runtime.enable")
        url = base_url.rstrip("/") + "/"
        nav = page.call("Page.navigate", url=url)
        if nav.get("errorText"):
            raise Fail(f"loading {url}: {nav['errorText']}")
        form_shown = "(() => { const t = document.getElementById('token'); return !!t && t.offsetParent !== null; })()"
        page.wait_for(form_shown, "the token form", 15)

        enter_token(page, "wrong-token")
        page.wait_for("(document.getElementById('auth-error') || {}).textContent", "#auth-error after a wrong token", 10)
        page.wait_for(form_shown, "the token form after a wrong token", 5)

        enter_token(page, token)
        host_row = f"#hosts tr[data-host=\"${{CSS.escape({json.dumps(host)})}}\"]"
        rule_item = f"#alerts li[data-rule=\"${{CSS.escape({json.dumps(rule)})}}\"]"
        page.wait_for(f"!!document.querySelector(`{host_row}`) && !!document.querySelector(`{rule_item}`)",
                      f"host {host!r} in #hosts and rule {rule!r} in #alerts", 30)
        if page.eval("(document.getElementById('auth-error') || {}).textContent"):
            raise Fail("#auth-error still shown after the right token")
        # Best effort, for a screenshot with lines in the charts: rates need two polls, lines two rates.
        try:
            page.wait_for("[...document.querySelectorAll('#charts polyline')].some(l => l.points.numberOfItems > 1)",
                          "chart lines", 8)
        except Fail:
            if page.problems:
                raise
        hosts = page.eval("document.querySelectorAll('#hosts tr[data-host]').length")
        alerts = page.eval("document.querySelectorAll('#alerts li[data-rule]').length")
        shot = page.call("Page.captureScreenshot", timeout=15, format="png", captureBeyondViewport=True)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        if page.problems:
            raise Fail(page.problems[0])
        return hosts, alerts
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def main():
    if len(sys.argv) != 6:
        print("usage: dashboard_check.py BASE_URL TOKEN EXPECT_HOST EXPECT_RULE SCREENSHOT_PATH", file=sys.stderr)
        return 2
    base_url, token, host, rule, screenshot = sys.argv[1:]
    user_data = tempfile.mkdtemp(prefix="vigil-dashboard-")
    try:
        hosts, alerts = check(base_url, token, host, rule, screenshot, user_data)
        print(f"dashboard: ok hosts={hosts} alerts={alerts}")
        return 0
    except Fail as e:
        print(f"dashboard: FAIL {e}")
    except Exception as e:  # connection refused, websocket closed, ...
        print(f"dashboard: FAIL {type(e).__name__}: {e}")
    finally:
        shutil.rmtree(user_data, ignore_errors=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
