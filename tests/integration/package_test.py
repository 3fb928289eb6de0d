"""The Debian package (scripts/package; docs/command-line.md, "Start-up and
systemd"): lintian finds no error, the files are where the package says, the
shipped configuration passes `check`, the unit passes `systemd-analyze
verify`, the sysusers file makes the user, the man pages render without a
warning and bash completes the commands.

The package under test: $SB_PACKAGE_DEB when set; otherwise
`scripts/package --prebuilt $SWITCHBOARD_BIN`, the same package around the
binary the test build already made, because a release build compiles the
whole tree again with Debian's flags (no compiler-cache hits from the test
build: several minutes of a CI run). SB_PACKAGE_FULL=1 makes the test run
the release build itself (`scripts/package`)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from sbtest import SOURCE_DIR, SWITCHBOARD  # noqa: E402


def run(args, timeout=120, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def project_version():
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        return re.search(r"^project\(switchboard VERSION ([0-9.]+)", f.read(), re.M).group(1)


class PackageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="sbpkg-")
        os.chmod(cls.workdir, 0o755)  # the unprivileged `check` below reads in here
        deb = os.environ.get("SB_PACKAGE_DEB")
        if not deb:
            full = os.environ.get("SB_PACKAGE_FULL") == "1"
            args = [] if full else ["--prebuilt", os.path.abspath(SWITCHBOARD)]
            env = dict(os.environ, PACKAGE_DIR=os.path.join(cls.workdir, "package"))
            r = run(["bash", os.path.join(SOURCE_DIR, "scripts", "package"), *args],
                    timeout=3600 if full else 900, env=env)
            if r.returncode != 0:
                raise AssertionError(f"scripts/package failed:\n{r.stdout}\n{r.stderr}")
            deb = r.stdout.strip().splitlines()[-1]
        cls.deb = deb
        cls.root = os.path.join(cls.workdir, "root")
        r = run(["dpkg-deb", "-x", deb, cls.root])
        assert r.returncode == 0, r.stderr
        cls.control = os.path.join(cls.workdir, "control")
        r = run(["dpkg-deb", "-e", deb, cls.control])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def test_file_name_carries_the_version_of_cmakelists(self):
        self.assertEqual(os.path.basename(self.deb),
                         f"switchboard_{project_version()}_amd64.deb")
        r = run(["dpkg-deb", "-f", self.deb, "Version"])
        self.assertEqual(r.stdout.strip(), project_version())

    def test_lintian_reports_no_error(self):
        r = run(["lintian", "--no-cfg", self.deb], timeout=300)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
        errors = [line for line in tags if line.startswith("E: ")]
        self.assertEqual(errors, [], "\n".join(tags))

    def test_files_are_installed_where_the_docs_say(self):
        for f in ["usr/sbin/switchboard",
                  "etc/switchboard/switchboard.yaml",
                  "lib/systemd/system/switchboard.service",
                  "usr/lib/sysusers.d/switchboard.conf",
                  "usr/share/man/man8/switchboard.8.gz",
                  "usr/share/man/man5/switchboard.yaml.5.gz",
                  "usr/share/bash-completion/completions/switchboard",
                  "usr/share/switchboard/grafana/switchboard.json",
                  "usr/share/switchboard/prometheus-alerts.yml",
                  "usr/share/switchboard/prometheus.yml",
                  "usr/share/doc/switchboard/copyright"]:
            self.assertTrue(os.path.isfile(self.path(f)), f)
        self.assertTrue(os.access(self.path("usr/sbin/switchboard"), os.X_OK))
        shipped = sorted(f for f in os.listdir(os.path.join(SOURCE_DIR, "configs"))
                         if f.endswith(".yaml"))
        self.assertTrue(shipped)
        self.assertEqual(sorted(os.listdir(self.path("usr/share/switchboard/examples"))), shipped)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertIn("/etc/switchboard/switchboard.yaml", f.read().split())

    def test_binary_reports_the_package_version(self):
        r = run([self.path("usr/sbin/switchboard"), "version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(project_version(), r.stdout)

    def test_check_accepts_the_shipped_configuration(self):
        config = self.path("etc/switchboard/switchboard.yaml")
        binary = self.path("usr/sbin/switchboard")
        r = run([binary, "check", "-c", config])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        if os.geteuid() == 0:
            # The service's user is no root: the file must pass as nobody too.
            r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     binary, "check", "-c", config])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A broken copy is refused: `check` did read the file.
        broken = os.path.join(self.workdir, "broken.yaml")
        with open(config) as f, open(broken, "w") as out:
            out.write(f.read().replace("shutdown-grace:", "shutdown-grase:"))
        r = run([binary, "check", "-c", broken])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)

    def test_sysusers_file_creates_the_service_user(self):
        # What the postinst runs (systemd-sysusers switchboard.conf), in a root
        # of its own.
        with open(os.path.join(self.control, "postinst")) as f:
            self.assertIn("systemd-sysusers", f.read())
        sysroot = os.path.join(self.workdir, "sysroot")
        os.makedirs(os.path.join(sysroot, "etc"))
        r = run(["systemd-sysusers", f"--root={sysroot}",
                 self.path("usr/lib/sysusers.d/switchboard.conf")])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(sysroot, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.split(":") for line in f}
        self.assertIn("switchboard", users)
        self.assertLess(int(users["switchboard"][2]), 1000)  # a system user
        self.assertTrue(users["switchboard"][6].strip().endswith("nologin"))

    def test_unit_passes_systemd_analyze_verify(self):
        with open(self.path("lib/systemd/system/switchboard.service")) as f:
            unit = f.read()
        for line in ["Type=notify", "User=switchboard", "ExecReload=/bin/kill -HUP $MAINPID",
                     "AmbientCapabilities=CAP_NET_BIND_SERVICE", "LimitNOFILE=1048576",
                     "ExecStartPre=/usr/sbin/switchboard check -c /etc/switchboard/switchboard.yaml",
                     "ExecStart=/usr/sbin/switchboard run -c /etc/switchboard/switchboard.yaml"]:
            self.assertIn(line + "\n", unit)
        # verify wants the programs it names to exist and the man pages of
        # Documentation= to open: the copy names the extracted binary, man
        # looks in the extracted pages. Any complaint (an unknown key, a bad
        # value) is printed, with exit 0: both must be clean.
        unit_dir = os.path.join(self.workdir, "unit")
        os.makedirs(unit_dir)
        copy = os.path.join(unit_dir, "switchboard.service")
        with open(copy, "w") as f:
            f.write(unit.replace("/usr/sbin/switchboard", self.path("usr/sbin/switchboard")))
        env = dict(os.environ, MANPATH=self.path("usr/share/man"))
        r = run(["systemd-analyze", "verify", copy], env=env)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_man_pages_render_without_warnings(self):
        for page, name in [("man8/switchboard.8.gz", "switchboard"),
                           ("man5/switchboard.yaml.5.gz", "switchboard.yaml")]:
            env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
            r = run(["man", "--warnings", "-l", self.path("usr/share/man", page)], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "", page)
            self.assertRegex(r.stdout, rf"NAME\n\s+{re.escape(name)} - ")
        r = run(["man", "-l", self.path("usr/share/man/man5/switchboard.yaml.5.gz")],
                env=dict(os.environ, MANWIDTH="80"))
        for key in ["shutdown-grace", "max-connections-per-source", "proxy-protocol"]:
            self.assertIn(key, r.stdout)

    def complete(self, *words):
        """What the installed completion offers after `words` (the last is
        the word being completed)."""
        script = self.path("usr/share/bash-completion/completions/switchboard")
        r = run(["bash", "--norc", "-c",
                 'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _switchboard; '
                 'printf "%s\\n" "${COMPREPLY[@]}"', script, "switchboard", *words])
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(w for w in r.stdout.split("\n") if w)

    def test_bash_completion_completes_commands_and_options(self):
        self.assertEqual(self.complete("ch"), ["check"])
        self.assertEqual(self.complete(""), sorted(["run", "check", "mx-test", "version"]))
        self.assertEqual(self.complete("run", "--c"), ["--config"])
        self.assertEqual(self.complete("mx-test", "example.com", "--"),
                         sorted(["--dns", "--queries", "--port", "--timeout", "--json", "--help"]))
        self.assertEqual(self.complete("mx-test", "--dns", ""), [])
        configs = os.path.join(self.workdir, "completion")
        os.makedirs(os.path.join(configs, "sub"))
        for name in ["a.yaml", "b.txt"]:
            open(os.path.join(configs, name), "w").close()
        self.assertEqual(self.complete("check", "-c", configs + "/"),
                         [configs + "/a.yaml", configs + "/sub"])


if __name__ == "__main__":
    unittest.main()
