"""The command line (README.md, "Command line"): check, run's refusals, version, exit codes,
and every shipped or documented configuration accepted by `check`."""

import glob
import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import (SOURCE_DIR, SWITCHBOARD, IntegrationTest, Switchboard,  # noqa: E402
                    free_port, healthz)


def sb(*args, timeout=20):
    return subprocess.run([SWITCHBOARD, *args], capture_output=True, text=True, timeout=timeout)


def documented_examples():
    """```yaml blocks whose first line is `# check: full`, from README and docs/."""
    files = [os.path.join(SOURCE_DIR, "README.md")] + sorted(
        glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")))
    for path in files:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        for i, m in enumerate(re.finditer(r"```yaml\n(.*?)```", text, re.S)):
            if m.group(1).startswith("# check: full"):
                yield f"{os.path.basename(path)}#{i}", m.group(1)


# The TLS files that shipped configurations and documented examples name
# (`cert`, `key`, `ca`, `client-ca`: /etc/switchboard/tls/... and the like)
# do not exist on a test machine, and `check` loads every one of them
# (docs/configuration.md, "tls"). Each path is replaced by a throwaway file
# made here, one key and self-signed certificate per file stem (the name
# without its extension), so that mail.example.com.pem and
# mail.example.com.key stay a matching pair; a CA file gets a certificate.
# The rest of the text is checked as written.
TLS_FILE = re.compile(r"(?<![\w-])(cert|key|ca|client-ca):([ \t]*)(\"?)([^\s,}\"#]+)\3")


class TlsFiles:
    def __init__(self, directory):
        self.dir = directory
        self.made = {}

    def pair(self, stem):
        if stem not in self.made:
            os.makedirs(self.dir, exist_ok=True)
            key = os.path.join(self.dir, f"{stem}.key")
            cert = os.path.join(self.dir, f"{stem}.crt")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                            "-subj", f"/CN={stem}", "-keyout", key, "-out", cert],
                           check=True, capture_output=True, timeout=60)
            self.made[stem] = {"cert": cert, "key": key}
        return self.made[stem]

    def substitute(self, text):
        """`text` with every TLS file path replaced by a file that exists."""
        def made_for(m):
            stem = os.path.splitext(os.path.basename(m.group(4)))[0]
            files = self.pair(stem)
            path = files["key"] if m.group(1) == "key" else files["cert"]
            return f'{m.group(1)}:{m.group(2)}"{path}"'
        return TLS_FILE.sub(made_for, text)


class CliTest(IntegrationTest):

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_accepts_every_shipped_config(self):
        files = sorted(glob.glob(os.path.join(SOURCE_DIR, "configs", "**", "*.yaml"),
                                 recursive=True))
        self.assertTrue(files, "configs/ has no yaml files")
        tls = TlsFiles(os.path.join(self.workdir, "tls"))
        for path in files:
            with self.subTest(path=path):
                with open(path) as f:
                    text = f.read()
                checked = path
                if TLS_FILE.search(text):
                    checked = self.write(os.path.basename(path), tls.substitute(text))
                r = sb("check", "-c", checked)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_accepts_every_documented_example(self):
        examples = list(documented_examples())
        self.assertGreater(len(examples), 3, "no `# check: full` examples found in docs")
        tls = TlsFiles(os.path.join(self.workdir, "tls"))
        for name, text in examples:
            with self.subTest(example=name):
                path = self.write("example.yaml", tls.substitute(text))
                r = sb("check", "-c", path)
                self.assertEqual(r.returncode, 0, f"{name}:\n{text}\n{r.stderr}")

    def test_check_reports_file_line_column(self):
        path = self.write("bad.yaml", "pools:\n  p:\n    servers:\n      - address: 10.0.0.1:25\n"
                          "    conect-timeout: 3s\n")
        r = sb("check", "-c", path)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, re.escape(path) + r":5:5: .*conect-timeout")

    def test_check_reports_every_error(self):
        path = self.write("bad.yaml", "workers: lots\nshutdown-grace: 30\npools: []\n")
        r = sb("check", "-c", path)
        self.assertEqual(r.returncode, 1)
        lines = [line for line in r.stderr.splitlines() if line.startswith(path)]
        self.assertEqual(len(lines), 3, r.stderr)
        self.assertTrue(lines[0].startswith(f"{path}:1:"))
        self.assertTrue(lines[1].startswith(f"{path}:2:"))
        self.assertTrue(lines[2].startswith(f"{path}:3:"))

    def test_check_on_a_missing_file(self):
        r = sb("check", "-c", os.path.join(self.workdir, "nope.yaml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.yaml", r.stderr)

    def test_usage_errors_exit_2(self):
        for args in ([], ["frobnicate"], ["check", "--bogus"], ["run", "-c"],
                     ["check", "-c", "a", "b"], ["version", "extra"]):
            with self.subTest(args=args):
                r = sb(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage:", r.stderr)

    def test_every_command_answers_help(self):
        for args in (["--help"], ["run", "--help"], ["check", "--help"], ["mx-test", "--help"],
                     ["version", "--help"]):
            with self.subTest(args=args):
                r = sb(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Usage: switchboard", r.stdout)
        self.assertIn("/etc/switchboard/switchboard.yaml", sb("check", "--help").stdout)
        for option in ("--dns", "--queries", "--port", "--timeout", "--json"):
            self.assertIn(option, sb("mx-test", "--help").stdout)

    def test_config_defaults_to_etc_switchboard(self):
        r = sb("check")
        if os.path.exists("/etc/switchboard/switchboard.yaml"):
            self.skipTest("this machine has /etc/switchboard/switchboard.yaml")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("/etc/switchboard/switchboard.yaml:1:1: cannot read", r.stderr)

    def test_version_names_the_libraries(self):
        r = sb("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.splitlines()[0],
                         r"^switchboard \d+\.\d+\.\d+ \(commit (?:[0-9a-f]{7,}(?:-dirty)?|unknown), "
                         r"build \w+\)$")
        for lib in ("switchboard", "boost 1.81", "OpenSSL 3", "c-ares", "nghttp2", "yaml-cpp",
                    "prometheus-cpp", "spdlog"):
            self.assertIn(lib, r.stdout)

    def test_check_and_run_refuse_what_this_version_does_not_support(self):
        path = self.write("later.yaml", f"""\
admin: {{listen: 127.0.0.1:{free_port()}}}
pools:
  relay:
    servers:
      - address: 127.0.0.1:2525
listeners:
  smtp-vip:
    listen: ["127.0.0.1:{free_port()}"]
    protocol: smtp
    pool: relay
    smtp: {{mode: passthrough, xclient: true}}
    tls: {{certificates: [{{cert: /c.pem, key: /k.pem}}]}}
""")
        for command in ("check", "run"):
            with self.subTest(command=command):
                r = sb(command, "-c", path)
                self.assertEqual(r.returncode, 1)
                self.assertRegex(r.stderr, re.escape(path) + r":11:\d+: .*smtp.xclient in "
                                 r"passthrough is not supported by this version: set smtp.mode: "
                                 r"inspect")
                self.assertRegex(r.stderr, re.escape(path) + r":12:\d+: .*tls on an smtp "
                                 r"listener .*is not supported by this version")
                self.assertNotRegex(r.stderr, r"milestone|issue|implemented")

    def test_run_exits_3_when_the_address_is_in_use(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        self.addCleanup(busy.close)
        path = self.write("busy.yaml", f"""\
admin: {{listen: 127.0.0.1:{free_port()}}}
pools:
  p:
    health: {{check: none}}
    servers: [{{address: "127.0.0.1:9"}}]
listeners:
  l:
    listen: ["127.0.0.1:{port}"]
    pool: p
""")
        r = sb("run", "-c", path)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)

    def test_freebind_listens_on_an_address_this_host_does_not_hold(self):
        # 192.0.2.0/24 (TEST-NET-1) is on no interface here: the backup of a
        # VRRP pair before the virtual address moves to it.
        address = f"192.0.2.77:{free_port()}"
        admin = free_port()
        config = f"""\
admin: {{listen: 127.0.0.1:{admin}}}
pools:
  p:
    health: {{check: none}}
    servers: [{{address: "127.0.0.1:9"}}]
listeners:
  l:
    listen: ["{address}"]
    pool: p
"""
        r = sb("run", "-c", self.write("held.yaml", config))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(address, r.stderr)
        switchboard = Switchboard(self.procs, self.workdir, config + "    freebind: true\n",
                                  wait_ports=[admin])
        self.assertEqual(healthz(admin)[0], 200)
        self.assertIn(f"listener l: tcp on {address}", switchboard.log())
        self.assertEqual(switchboard.stop(), 0)


if __name__ == "__main__":
    unittest.main()
