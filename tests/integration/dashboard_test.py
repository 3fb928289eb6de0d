"""The shipped Grafana dashboard works: a real Prometheus scrapes a running
switchboard while traffic flows and a backend fails, then every panel's
query, evaluated through Prometheus' HTTP API, returns data. A query that
names a metric switchboard does not export returns none, so this fails."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, Nginx, SmtpSink, Switchboard, free_port,  # noqa: E402
                    free_port_tcp_udp, http_get, one_pool_config, wait_until)

DASHBOARD = os.path.join(sbtest.SOURCE_DIR, "configs", "grafana", "switchboard.json")
# Grafana's variables as a query sees them with "All" chosen.
VARIABLES = {"$__rate_interval": "15s", "$pool": ".*", "$job": ".*", "$instance": ".*"}
# A metric selector in a query: the name and its {matchers}, if any.
SELECTOR = re.compile(r"\b((?:switchboard|process)_[a-z0-9_]+)(\{[^}]*\})?")


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def panel_queries(substitute=True):
    for panel in load_dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            if substitute:
                for var, value in VARIABLES.items():
                    expr = expr.replace(var, value)
            yield panel["title"], expr


class DashboardNodesTest(unittest.TestCase):
    """Several nodes behind one Prometheus (docs/high-availability.md): the
    dashboard lets one choose them and every query honours the choice."""

    def test_instance_variable_exists(self):
        variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
        self.assertIn("instance", variables)
        v = variables["instance"]
        self.assertEqual(v["type"], "query")
        self.assertTrue(v["multi"])
        self.assertTrue(v["includeAll"])
        self.assertEqual(v["allValue"], ".*")
        self.assertRegex(v["query"]["query"],
                         r"^label_values\(switchboard_\w+(\{[^}]*\})?, instance\)$")

    def test_every_query_filters_by_instance(self):
        queries = list(panel_queries(substitute=False))
        self.assertGreater(len(queries), 10)
        for title, expr in queries:
            with self.subTest(panel=title, expr=expr):
                selectors = SELECTOR.findall(expr)
                self.assertTrue(selectors, "no metric in the query")
                for name, matchers in selectors:
                    self.assertIn('instance=~"$instance"', matchers, name)


class DashboardTest(IntegrationTest):

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return [s for s in body["data"]["result"] if s["value"][1] not in ("NaN", "+Inf", "-Inf")]

    def test_every_panel_query_returns_data(self):
        a = {"name": "a", "port": free_port()}
        b = {"name": "b", "port": free_port()}
        Nginx(self.procs, self.workdir, [a])
        failing = Nginx(self.procs, self.workdir, [b], tag="nginx-b")
        port, admin, dns, https = free_port(), free_port(), free_port_tcp_udp(), free_port()
        sip, uas = free_port_tcp_udp(), free_port_tcp_udp()
        smtp = free_port()
        sink = SmtpSink(self.procs)
        cert = sbtest.self_signed_certificate(self.workdir)
        # A SIP server (sipp's built-in UAS) for the sip listener's calls.
        self.procs.start(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas), "-nostdin",
                          "-timeout", "120s"], "sipp-uas")
        # The tcp VIP, a DNS responder and an https listener for the same
        # pool, and a sip listener for a pool of its own.
        config = one_pool_config(
            port, admin, f"""\
      - {{address: 127.0.0.1:{a['port']}, name: a}}
      - {{address: 127.0.0.1:{b['port']}, name: b}}""",
            "    health: {check: http, interval: 300ms, timeout: 1s, rise: 1, fall: 1}\n",
            pool="relay").replace("listeners:\n", f"""\
  um:
    health: {{check: none}}
    servers: [{{address: 127.0.0.1:{uas}}}]
  mail:
    health: {{check: none}}
    servers: [{{address: 127.0.0.1:{sink.port}}}]
listeners:
""") + f"""\
  relay-inspect:
    listen: ["127.0.0.1:{smtp}"]
    protocol: smtp
    pool: mail
    smtp: {{mode: inspect, hostname: relay.test}}
  um-vip:
    listen: ["127.0.0.1:{sip}"]
    protocol: sip
    pool: um
  dns:
    listen: ["127.0.0.1:{dns}"]
    protocol: dns
    dns:
      records: [{{name: relay.test, type: A, pool: relay}}]
  https:
    listen: ["127.0.0.1:{https}"]
    protocol: http
    tls: {{certificates: [{{cert: {cert['cert']}, key: {cert['key']}}}]}}
    http: {{routes: [{{match: {{path-prefix: /}}, pool: relay}}]}}
"""
        self.sb = Switchboard(self.procs, self.workdir, config, wait_ports=[port, https, sip, smtp])

        self.prom_port = free_port()
        prom_dir = os.path.join(self.workdir, "prometheus")
        os.makedirs(prom_dir)
        conf = os.path.join(prom_dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: switchboard
    static_configs: [{{targets: ["127.0.0.1:{admin}"]}}]
""")
        self.procs.start(["prometheus", f"--config.file={conf}",
                          f"--storage.tsdb.path={prom_dir}/data",
                          f"--web.listen-address=127.0.0.1:{self.prom_port}"], "prometheus")
        wait_until(lambda: sbtest.can_connect(self.prom_port), timeout=30, what="prometheus")

        # Traffic for the whole window; one backend fails in the middle.
        stop = threading.Event()

        def traffic():
            while not stop.is_set():
                http_get(port, timeout=2)
                subprocess.run(["curl", "-sk", "--max-time", "2", "-o", "/dev/null",
                                f"https://127.0.0.1:{https}/", f"https://127.0.0.1:{https}/x"],
                               capture_output=True, timeout=5)
                subprocess.run(["smtp-source", "-m", "2", "-f", "a@example.com", "-t",
                                "b@example.com", f"127.0.0.1:{smtp}"],
                               capture_output=True, timeout=5)
                subprocess.run(["dig", "@127.0.0.1", "-p", str(dns), "relay.test", "+short",
                                "+time=1", "+tries=1"], capture_output=True, timeout=5)
                time.sleep(0.02)

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        # Calls through the sip listener for the whole window: 5 a second,
        # at most 300 (60 s).
        self.procs.start(["sipp", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port_tcp_udp()),
                          "-r", "5", "-m", "300", "-nostdin", "-timeout", "90s",
                          f"127.0.0.1:{sip}"], "sipp-uac")
        try:
            time.sleep(4)
            failing.proc.terminate()
            failing.proc.wait(timeout=10)
            wait_until(lambda: self.query('switchboard_pool_servers_up{pool="relay"} == 1'),
                       timeout=20, what="Prometheus seeing b down")
            time.sleep(3)
            wait_until(lambda: len(self.query('up{job="switchboard"} == 1')) == 1, timeout=20,
                       what="Prometheus scraping switchboard")
            missing = []
            queries = list(panel_queries())
            self.assertGreater(len(queries), 10)
            for title, expr in queries:
                if not self.query(expr):
                    missing.append(f"{title}: {expr}")
            self.assertEqual(missing, [], "panels whose query returns no data")
            # The check can fail: a metric that does not exist has no data.
            self.assertEqual(self.query(
                'sum by (pool) (rate(switchboard_no_such_metric_total[15s]))'), [])
        finally:
            stop.set()
            t.join(timeout=10)


if __name__ == "__main__":
    unittest.main()
