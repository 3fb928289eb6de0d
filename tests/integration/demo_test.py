"""scripts/demo --check: the README's first command starts what it says and
the commands it prints work (uses the already built binary): L4 round robin,
the https listener (TLS with the certificate the demo makes, a server per
request on one connection, the affinity cookie, HTTP/1.1 when HTTP/2 is
asked for), drain, the SMTP relay, inspect mode replaying on hub1 the
messages hub4 drops at DATA, DNS, mx-test, and SIP calls: sipp places
five calls through the sip listener, and each must be answered although one
of its two sipp servers turns every call down with 503 (5 successful, 0
failed, at least one failed over)."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import SOURCE_DIR, SWITCHBOARD  # noqa: E402


class DemoTest(unittest.TestCase):
    def test_demo_check(self):
        env = dict(os.environ, SWITCHBOARD_BIN=os.path.abspath(SWITCHBOARD))
        r = subprocess.run(["bash", os.path.join(SOURCE_DIR, "scripts", "demo"), "--check"],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("demo check: https saw web1 web2 web3", r.stdout)
        self.assertRegex(r.stdout,
                         r"demo check: sip calls 5 successful, 0 failed, [1-9]\d* failed over")
        # The inspect listener: hub4 drops every message at DATA, none is lost.
        self.assertRegex(r.stdout, r"demo check: inspect: 4 messages accepted, [1-9]\d* replayed")
        self.assertIn("demo check: ok", r.stdout)


if __name__ == "__main__":
    unittest.main()
