"""The status page (GET /) in headless Chromium: every server of the
configuration listed with its state; a server taken down shows down after
the page refreshes itself (no reload); a screenshot is taken; its own
actions work from the browser, and the same POST from another site does not;
the node, its uptime and listeners, health apart from the admin state, a
failed check's transcript on demand, actions confirmed by a second click,
and a connections-per-second sparkline per server."""

import json
import os
import socket
import sys
import time
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
        finally:
            browser.close()

    def test_node_listeners_health_apart_from_admin_state_transcript_confirm_sparkline(self):
        # web1 passes its http check; web2 is drained in the file and fails
        # its check (its body is not "web1"): drained AND down, with the
        # check's dialogue kept.
        a = {"name": "web1", "port": free_port()}
        b = {"name": "web2", "port": free_port()}
        Nginx(self.procs, self.workdir, [a, b])
        port, admin = free_port(), free_port()
        self.sb = Switchboard(self.procs, self.workdir, f"""\
workers: 1
admin: {{listen: 127.0.0.1:{admin}}}
pools:
  cas:
    health: {{check: http, expect-body: web1, interval: 300ms, timeout: 1s, rise: 1, fall: 1}}
    servers:
      - {{address: 127.0.0.1:{a['port']}, name: web1}}
      - {{address: 127.0.0.1:{b['port']}, name: web2, state: drain}}
listeners:
  vip:
    listen: ["127.0.0.1:{port}"]
    pool: cas
    max-connections: 7
""", wait_ports=[port])

        def status():
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/status", timeout=5) as r:
                return json.load(r)

        def server(name):
            return next(s for s in status()["pools"][0]["servers"] if s["name"] == name)

        # Two connections held open through the listener: 2 of its 7.
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        browser = HeadlessChromium(self.procs, self.workdir)
        try:
            browser.open(f"http://127.0.0.1:{admin}/")
            ev = browser.evaluate
            wait_until(lambda: ev("document.getElementById('node').textContent") ==
                       f"on {socket.gethostname()}", timeout=10, what="the node's name at the top")
            self.assertRegex(ev("document.getElementById('meta').textContent"),
                             r"^up \d+s \(since ")
            self.assertIn(socket.gethostname(), ev("document.title"))
            listener = "document.querySelector('tr[data-listener=\"vip\"]')"
            wait_until(lambda: "2 / 7" in (ev(f"{listener}?.textContent") or ""), timeout=10,
                       what="listener vip shown with 2 of its 7 connections")
            self.assertEqual(ev(f"{listener}.querySelector('meter').value"), 2)
            self.assertIn(f"127.0.0.1:{port}", ev(f"{listener}.textContent"))
            for c in held:
                c.close()

            row = "document.querySelector('tr[data-server=\"{}\"]')"
            web2 = row.format("web2")
            wait_until(lambda: ev(f"{web2}?.dataset.health") == "down", timeout=10,
                       what="web2 shown down")
            # Both, in words (not colour alone): its health and its admin state.
            self.assertEqual(ev(f"{web2}.dataset.admin"), "drain")
            self.assertEqual(ev(f"{web2}.dataset.state"), "drain")
            badges = json.loads(ev(f"JSON.stringify([...{web2}.querySelectorAll('.state')]"
                                   ".map(e => e.textContent))"))
            self.assertEqual(badges, ["down", "drain"])
            self.assertRegex(ev(f"{web2}.querySelector('time.since').textContent"), r"^for \d+")
            self.assertEqual(ev(f"{web2}.querySelector('time.since').dateTime"),
                             server("web2")["health_since"])

            # The failed check's dialogue, on demand; it stays open across refreshes.
            self.assertFalse(ev(f"{web2}.querySelector('details').open"))
            self.assertFalse(ev(f"{web2}.querySelector('details pre').checkVisibility()"))
            ev(f"{web2}.querySelector('details summary').click()")
            wait_until(lambda: ev(f"{web2}.querySelector('details pre')?.checkVisibility()"),
                       timeout=5, what="the transcript shown")
            transcript = ev(f"{web2}.querySelector('details pre').textContent")
            self.assertIn("C: GET / HTTP/1.1", transcript)
            self.assertIn("S: (body) web2", transcript)
            time.sleep(2.5)  # a refresh rebuilds the table
            self.assertTrue(ev(f"{web2}.querySelector('details').open"))

            # Connections through the listener, for the sparklines.
            for _ in range(6):
                self.assertEqual(sbtest.http_get(port)[1], "web1")
            points = ("JSON.stringify([...document.querySelectorAll('tr[data-server]')].map(r => "
                      "[r.dataset.server, +r.querySelector('svg.spark').dataset.points, "
                      "r.querySelector('svg.spark polyline').getAttribute('points')]))")
            wait_until(lambda: all(n >= 3 and len(p.split()) == n
                                   for _, n, p in json.loads(ev(points))),
                       timeout=15, what="a sparkline per server with points after a few polls")
            self.assertEqual(sorted(s for s, _, _ in json.loads(ev(points))), ["web1", "web2"])
            label = ev(f"{row.format('web1')}.querySelector('svg.spark')"
                       ".getAttribute('aria-label')")
            self.assertRegex(label, r"^connections per second: [0-9.]+ now, at most [0-9.]+ over")
            self.assertNotIn("at most 0.0 ", label)  # web1's six connections are on it

            # SB_STATUS_SCREENSHOT=PATH keeps a picture (the README's).
            if os.environ.get("SB_STATUS_SCREENSHOT"):
                browser.screenshot(os.environ["SB_STATUS_SCREENSHOT"])

            # Disable: the first click only asks; cancel sends nothing.
            web1 = row.format("web1")
            button = web1 + ".querySelector('button[data-key=\"{} cas/web1\"]')"
            ev(button.format("disable") + ".click()")
            self.assertEqual(ev(button.format("confirm") + ".textContent"), "disable web1?")
            self.assertEqual(ev("document.activeElement.dataset.key"), "confirm cas/web1")
            time.sleep(2.5)  # still asking after a refresh; nothing sent
            self.assertEqual(ev(button.format("confirm") + ".textContent"), "disable web1?")
            self.assertEqual(ev("document.activeElement.dataset.key"), "confirm cas/web1")
            self.assertEqual(server("web1")["admin_state"], "enabled")
            ev(button.format("cancel") + ".click()")
            self.assertIsNone(ev(button.format("confirm")))
            self.assertEqual(ev("document.activeElement.dataset.key"), "disable cas/web1")
            self.assertEqual(server("web1")["admin_state"], "enabled")
            # Asked again and confirmed: disabled, in /status and on the page.
            ev(button.format("disable") + ".click()")
            self.assertEqual(server("web1")["admin_state"], "enabled")
            ev(button.format("confirm") + ".click()")
            wait_until(lambda: server("web1")["admin_state"] == "disabled", timeout=5,
                       what="web1 disabled after the confirmation")
            wait_until(lambda: ev(f"{web1}.dataset.admin") == "disabled", timeout=5,
                       what="web1 shown disabled")
            self.assertEqual(json.loads(ev(f"JSON.stringify([...{web1}.querySelectorAll('button')]"
                                           ".map(e => e.textContent))")), ["drain", "enable"])
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
