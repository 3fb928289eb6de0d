"""`switchboard mx-test` (README.md "DNS round-robin and MX testing") against a real DNS server (BIND named on
loopback) whose MX records point at two smtp-sink hosts and a private
Postfix with STARTTLS, and against switchboard's own DNS responder."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (SWITCHBOARD, IntegrationTest, NamedServer, PostfixInstance,  # noqa: E402
                    SmtpSink, Switchboard, free_port, free_port_tcp_udp,
                    self_signed_certificate)

SINKS = {"mx1.example.test": "127.0.0.21", "mx2.example.test": "127.0.0.22"}
TLS_HOST = "mx3.example.test"  # Postfix, on 127.0.0.1


def zone(port_note=""):
    return f"""\
        $TTL 300
        @    IN SOA ns.example.test. hostmaster.example.test. 1 60 60 600 60
        @    IN NS  ns.example.test.
        ns   IN A   127.0.0.1
        @    IN MX  10 mx1.example.test.
        @    IN MX  10 mx2.example.test.
        @    IN MX  20 mx3.example.test.
        mx1  IN A   127.0.0.21
        mx2  IN A   127.0.0.22
        mx3  IN A   127.0.0.1
        nomx IN A   127.0.0.21
        {port_note}
        """


class MxTestTest(IntegrationTest):

    def start_hosts(self):
        self.port = free_port()  # the same SMTP port on every host (--port)
        self.sinks = {n: SmtpSink(self.procs, port=self.port, host=ip, name=n)
                      for n, ip in SINKS.items()}
        cert = self_signed_certificate(self.workdir, TLS_HOST)
        self.postfix = PostfixInstance(self.procs, self.workdir, port=self.port, tls=cert,
                                       name="postfix-mx3")

    def mx_test(self, domain, dns_port, *extra):
        r = subprocess.run([SWITCHBOARD, "mx-test", domain, "--dns", f"127.0.0.1:{dns_port}",
                            "--port", str(self.port), "--timeout", "5s", *extra],
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def test_every_mx_host_probed_then_one_stopped(self):
        self.start_hosts()
        named = NamedServer(self.procs, self.workdir, {"example.test": zone()})
        code, out, err = self.mx_test("example.test", named.port, "--json", "--queries", "5")
        self.assertEqual(code, 0, out + err)
        report = json.loads(out)
        self.assertTrue(report["ok"])
        self.assertEqual(report["queries"], 5)
        hosts = {h["name"]: h for h in report["hosts"]}
        self.assertEqual(set(hosts), set(SINKS) | {TLS_HOST})
        self.assertEqual((hosts["mx1.example.test"]["preference"], hosts[TLS_HOST]["preference"]),
                         (10, 20))
        self.assertEqual(hosts["mx1.example.test"]["ttl"], 300)
        (a1,) = hosts["mx1.example.test"]["addresses"]
        self.assertEqual(a1["address"], "127.0.0.21")
        self.assertTrue(a1["banner"].startswith("220 "), a1)
        self.assertIn("PIPELINING", a1["extensions"])
        self.assertIsNone(a1["tls"])  # smtp-sink offers no STARTTLS
        (a3,) = hosts[TLS_HOST]["addresses"]
        self.assertIn("STARTTLS", a3["extensions"])
        self.assertEqual(a3["tls"]["subject"], f"CN={TLS_HOST}")
        self.assertTrue(a3["tls"]["name_matches"])
        self.assertRegex(a3["tls"]["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(sum(report["rotation"]["first_counts"].values()), 5)
        self.assertEqual(set(report["rotation"]["first_counts"]), set(SINKS))

        self.sinks["mx2.example.test"].stop()
        code, out, err = self.mx_test("example.test", named.port)
        self.assertEqual(code, 1, out + err)
        self.assertRegex(out, r"mx2\.example\.test 127\.0\.0\.22\s+FAIL Connection refused")
        self.assertIn("result: FAIL (1 of 3 addresses failed)", out)

    def test_no_mx_reports_the_implicit_mx_and_fails(self):
        self.start_hosts()
        named = NamedServer(self.procs, self.workdir, {"example.test": zone()})
        code, out, err = self.mx_test("nomx.example.test", named.port, "--json", "--queries", "2")
        self.assertEqual(code, 1, out + err)
        report = json.loads(out)
        self.assertTrue(report["implicit_mx"])
        self.assertFalse(report["ok"])
        (host,) = report["hosts"]
        self.assertEqual(host["name"], "nomx.example.test")
        self.assertTrue(host["addresses"][0]["ok"])  # the implicit MX answers
        code, out, _ = self.mx_test("nomx.example.test", named.port, "--queries", "2")
        self.assertIn("implicit MX", out)

    def test_switchboards_own_responder_rotates_evenly(self):
        self.start_hosts()
        dns = free_port_tcp_udp()
        servers = "\n".join(f"      - {{address: {ip}:{self.port}, name: {n}}}"
                            for n, ip in SINKS.items())
        config = f"""\
workers: 1
admin: {{listen: 127.0.0.1:{free_port()}}}
pools:
  edge:
    health: {{check: smtp, interval: 1s}}
    servers:
{servers}
listeners:
  dns:
    listen: ["127.0.0.1:{dns}"]
    protocol: dns
    dns:
      records:
        - {{name: example.test, type: MX, pool: edge, ttl: 60}}
"""
        Switchboard(self.procs, self.workdir, config, wait_ports=[dns])
        code, out, err = self.mx_test("example.test", dns, "--json", "--queries", "20")
        self.assertEqual(code, 0, out + err)
        report = json.loads(out)
        self.assertEqual(report["rotation"]["verdict"], "even", report["rotation"])
        self.assertEqual(sorted(report["rotation"]["first_counts"].values()), [10, 10])
        self.assertEqual(report["rotation"]["chi_square"], 0)
        # The responder knows no A records of the host names: their
        # addresses came from the glue of its MX answers.
        self.assertTrue(all(a["ok"] for h in report["hosts"] for a in h["addresses"]))

    def test_usage_errors(self):
        for args in ([], ["--queries", "0", "x.test"], ["x.test", "--bogus"],
                     ["x.test", "--timeout", "soon"], ["."], [""]):
            r = subprocess.run([SWITCHBOARD, "mx-test", *args], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("usage:", r.stderr)


if __name__ == "__main__":
    unittest.main()
