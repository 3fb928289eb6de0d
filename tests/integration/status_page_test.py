"""The status page (GET /) in headless Chromium: every server of the
configuration listed with its state; a server taken down shows down after
the page refreshes itself (no reload); a screenshot is taken; its own
actions work from the browser, and the same POST from another site does not."""

import json
import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (HeadlessChromium, IntegrationTest, Nginx, Switchboard, free_port,  # noqa: E402
                    one_pool_config, wait_until)

ROWS = ("JSON.stringify([...document.querySelectorAll('tr[data-server]')]"
        ".map(r => [r.closest('table').dataset.pool, r.dataset.server, r.dataset.state]))")


class StatusPageTest(IntegrationTest):

    def test_page_lists_every_server_and_follows_a_failure(self):
        a = {"name": "web1", "port": free_port()}
        b = {"name": "web2", "port": free_port()}
        Nginx(self.procs, self.workdir, [a])
        failing = Nginx(self.procs, self.workdir, [b], tag="nginx-b")
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, one_pool_config(
            port, admin, f"""\
      - {{address: 127.0.0.1:{a['port']}, name: web1}}
      - {{address: 127.0.0.1:{b['port']}, name: web2}}
      - {{address: 127.0.0.1:{free_port()}, name: web3, state: drain}}""",
            "    health: {check: tcp, interval: 300ms, timeout: 1s, rise: 1, fall: 1}\n",
            pool="cas"), wait_ports=[port])
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/", timeout=5) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
            page = r.read().decode()
        # Self-contained: no external scripts, styles or images.
        self.assertNotIn("http://", page.replace(f"127.0.0.1:{admin}", ""))
        self.assertNotIn("https://", page)

        browser = HeadlessChromium(self.procs, self.workdir)
        try:
            browser.open(f"http://127.0.0.1:{admin}/")
            rows = lambda: json.loads(browser.evaluate(ROWS) or "[]")  # noqa: E731
            wait_until(lambda: sorted(rows()) == [["cas", "web1", "up"], ["cas", "web2", "up"],
                                                  ["cas", "web3", "drain"]],
                       timeout=10, what="every server listed with its state")
            shot = os.path.join(self.workdir, "status-page.png")
            browser.screenshot(shot)
            with open(shot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

            failing.proc.terminate()
            failing.proc.wait(timeout=10)
            # The same page, not reloaded: its own refresh shows web2 down.
            wait_until(lambda: ["cas", "web2", "down"] in rows(), timeout=10,
                       what="web2 shown down after a refresh")
            self.assertIn(["cas", "web1", "up"], rows())
            # SB_STATUS_SCREENSHOT=PATH keeps a picture (the README's).
            if os.environ.get("SB_STATUS_SCREENSHOT"):
                browser.screenshot(os.environ["SB_STATUS_SCREENSHOT"])
        finally:
            browser.close()

    def test_the_pages_own_actions_work_and_another_sites_are_refused(self):
        # A real browser sends the Origin and Sec-Fetch-Site it sends: the
        # status page's own POST acts; the same POST from a page of another
        # origin (the backend's nginx) is refused before it changes anything.
        a = {"name": "web1", "port": free_port()}
        Nginx(self.procs, self.workdir, [a])
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, one_pool_config(
            port, admin, f"      - {{address: 127.0.0.1:{a['port']}, name: web1}}",
            "    health: {check: none}\n", pool="cas"), wait_ports=[port])

        def admin_state():
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5) as r:
                return json.load(r)["pools"][0]["servers"][0]["admin_state"]

        post = ("fetch('{url}', {{method: 'POST', mode: '{mode}'}})"
                ".then(r => r.status, e => 'error: ' + e)")
        browser = HeadlessChromium(self.procs, self.workdir)

        def visit(url):
            # A new tab shows about:blank until the page has loaded; a fetch
            # from there would come from no origin at all.
            browser.open(url)
            wait_until(lambda: browser.evaluate("location.href + ' ' + document.readyState") ==
                       f"{url} complete", timeout=10, what=f"{url} loaded")

        try:
            visit(f"http://127.0.0.1:{a['port']}/")  # another origin
            browser.call("Runtime.evaluate", {"expression": post.format(
                url=f"http://127.0.0.1:{admin}/pools/cas/servers/web1/drain", mode="no-cors"),
                "awaitPromise": True, "returnByValue": True})
            self.assertEqual(admin_state(), "enabled")
            visit(f"http://127.0.0.1:{admin}/")  # the status page itself
            r = browser.call("Runtime.evaluate", {"expression": post.format(
                url="/pools/cas/servers/web1/drain", mode="cors"),
                "awaitPromise": True, "returnByValue": True})
            self.assertEqual(r["result"]["value"], 200)
            self.assertEqual(admin_state(), "drain")
        finally:
            browser.close()


if __name__ == "__main__":
    unittest.main()
