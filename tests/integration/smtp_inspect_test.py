"""The SMTP listener in inspect mode (smtp.mode: inspect) with real peers:
switchboard greets and answers the session's commands itself, opens a
transaction on a server at MAIL, passes the server's answers to MAIL and RCPT
on, and answers the end of DATA only once a server said 250. A server that
fails before that (421, 4xx, a dropped connection, a closed port) gets the
whole transaction replayed on the next one, and the client sees only a
delay: smtp-source's sessions through servers failing at MAIL, RCPT and
the end of DATA, and through a sink killed every second, lose no message and
see no error. A 5xx is final; a replay that would lose an accepted recipient, or no
server at all, is a 4xx the sender retries on. The message passes byte for
byte (dot-stuffing, 8-bit), a 30 MiB one through the spool file with little
memory, the size and recipient limits hold, and swaks gets its mail through,
also over STARTTLS with a client certificate (and is refused without one);
a real Postfix sees the real client through XCLIENT."""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import sbtest  # noqa: E402
from sbtest import (IntegrationTest, PostfixInstance, SmtpClient, SmtpSink,  # noqa: E402
                    Switchboard, dot_stuff, free_port, memory_kib, metric_sum, read_log,
                    wait_until)


def inspect_config(port, admin, servers, spool, retries=2, balance="first-available",
                   max_size="1MB", listener_lines="", smtp_lines="", log_format="text"):
    """One listener "relay" in inspect mode on `port` and its pool "relay" of
    `servers` [(name, port)]. No health checks and no passive ejection: every
    transaction meets the failing servers, so what keeps mail flowing is the
    replay, not a server taken out of the pool."""
    servers_yaml = "\n".join(f"      - {{address: 127.0.0.1:{p}, name: {n}}}" for n, p in servers)
    return f"""\
workers: 2
admin: {{listen: 127.0.0.1:{admin}}}
log: {{access: true, format: {log_format}}}
pools:
  relay:
    retries: {retries}
    balance: {balance}
    connect-timeout: 1s
    health: {{check: none}}
    outlier: {{consecutive-failures: 0}}
    servers:
{servers_yaml}
listeners:
  relay:
    listen: ["127.0.0.1:{port}"]
    protocol: smtp
    pool: relay
    smtp:
      mode: inspect
      hostname: relay.test
      banner-timeout: 2s
      max-message-size: {max_size}
      spool-dir: {spool}
      max-recipients: 5
{smtp_lines}{listener_lines}"""


def simple_message(subject="test", body=b"Hello.\r\n"):
    return (b"From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: " +
            subject.encode() + b"\r\n\r\n" + body)


def ehlo_keywords(text):
    """{KEYWORD: [params]} of an EHLO reply (its lines after the first)."""
    out = {}
    for line in text.split("\n")[1:]:
        words = line[4:].split()
        if words:
            out[words[0].upper()] = words[1:]
    return out


# What smtp-source sends (-F): lines that dot-stuffing must get right, and
# a last line that shows a dump is whole. smtp-source stuffs the dots and ends
# each line with CRLF; smtp-sink's dump has the message unstuffed with LF
# line ends, and smtp-source's empty line after the file.
SOURCE_MESSAGE = (b"Subject: inspect mode\n\n.\n..\n.a leading dot\nmiddle\n" +
                  b"x" * 900 + b"\nEND OF MESSAGE\n")
SOURCE_DUMPED = SOURCE_MESSAGE + b"\n"


def smtp_source(workdir, port, sessions, messages, timeout):
    """smtp-source -s `sessions` -m `messages` with SOURCE_MESSAGE, each
    message its own recipient (-N: <1b@example.test>, <2b@example.test>, ...)."""
    path = os.path.join(workdir, "source-message.txt")
    with open(path, "wb") as f:
        f.write(SOURCE_MESSAGE)
    return subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(messages), "-N",
                           "-F", path, "-f", "a@example.test", "-t", "b@example.test",
                           f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=timeout)


def source_recipient_numbers(dumps):
    """The sequence numbers of smtp-source -N recipients ("<17b@example.test>")
    in `dumps`, one per dump."""
    out = []
    for d in dumps:
        for rcpt in d.all("X-Rcpt-Args"):
            m = re.match(r"<(\d+)b@example\.test>", rcpt)
            if m:
                out.append(int(m.group(1)))
    return out


class SmtpInspectTest(IntegrationTest):

    def relay(self, servers, name="switchboard", **kwargs):
        """switchboard with inspect_config in front of `servers` [(name, port)];
        its listener's port."""
        port, self.admin = free_port(), free_port()
        self.spool = os.path.join(self.workdir, f"spool-{name}")
        os.makedirs(self.spool)
        self.sb = Switchboard(self.procs, self.workdir,
                              inspect_config(port, self.admin, servers, self.spool, **kwargs),
                              wait_ports=[port], name=name)
        return port

    def transactions(self, result):
        return metric_sum(self.admin, "switchboard_smtp_transactions_total", listener="relay",
                          result=result)

    def wait_transactions(self, result, count):
        """Waits until the `result` counter reaches `count`, then asserts it
        stays exactly there (a counter that counts twice fails)."""
        wait_until(lambda: self.transactions(result) >= count, timeout=10,
                   what=f"{count} transaction(s) counted {result}")
        self.assertEqual(self.transactions(result), count, result)

    def session(self, port, timeout=30):
        """A client past the greeting and EHLO."""
        c = SmtpClient(port, timeout=timeout)
        self.addCleanup(c.close)
        code, text = c.reply()
        self.assertEqual(code, 220, text)
        code, text = c.command("EHLO client.test")
        self.assertEqual(code, 250, text)
        return c

    def open_transaction(self, c, rcpts=("b@example.test",), sender="a@example.test"):
        """MAIL and RCPT, each answered 250, and DATA answered 354."""
        code, text = c.command(f"MAIL FROM:<{sender}>")
        self.assertEqual(code, 250, text)
        for rcpt in rcpts:
            code, text = c.command(f"RCPT TO:<{rcpt}>")
            self.assertEqual(code, 250, f"RCPT {rcpt}: {text}")
        code, text = c.command("DATA")
        self.assertEqual(code, 354, text)

    def data(self, c):
        """DATA (switchboard's own 354), a short message and its end; the
        final reply's code."""
        code, text = c.command("DATA")
        self.assertEqual(code, 354, text)
        c.send(simple_message() + b".\r\n")
        return c.reply()[0]

    def sink_log_lines(self, sink):
        """The commands an smtp-sink -v saw, in order ("MAIL FROM:<...>")."""
        return [line[len("smtp-sink: "):] for line in read_log(sink.proc).splitlines()
                if line.startswith("smtp-sink: ")]

    def test_switchboard_greets_and_answers_session_commands_itself(self):
        sink = SmtpSink(self.procs)
        port = self.relay([("sink", sink.port)])
        c = SmtpClient(port, timeout=10)
        self.addCleanup(c.close)
        code, text = c.reply()
        self.assertTrue(text.startswith("220 relay.test ESMTP"), text)
        # A transaction needs a HELO or EHLO first (RFC 5321 4.1.4).
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 503)
        code, text = c.command("EHLO client.test")
        self.assertEqual(code, 250, text)
        self.assertTrue(text.startswith("250-relay.test"), text)
        keywords = ehlo_keywords(text)
        for keyword in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"):
            self.assertIn(keyword, keywords, text)
        self.assertEqual(keywords.get("SIZE"), ["1000000"], text)  # 1MB: powers of 1000
        self.assertNotIn("STARTTLS", keywords, text)  # no tls: on the listener
        self.assertEqual(c.command("NOOP")[0], 250)
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("VRFY b@example.test")[0], 252)
        code, text = c.command("XYZZY")
        self.assertIn(code, (500, 502), text)
        with self.subTest("an unknown command's enhanced code"):  # the rest goes on
            self.assertEqual(text[4:9], "5.5.1", text)  # RFC 3463: invalid command
        # A line over RFC 5321's 1000 bytes (CRLF included) is refused, and
        # the session goes on.
        long_line = b"NOOP " + b"x" * 994
        self.assertEqual(len(long_line) + 2, 1001)
        code, text = c.command(long_line)
        self.assertTrue(text.startswith("500 5.5.2"), text)
        self.assertEqual(c.command("NOOP")[0], 250)
        # DATA needs a transaction with an accepted recipient.
        code, text = c.command("DATA")
        self.assertIn(code, (503, 554), text)
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        code, text = c.command("DATA")
        self.assertIn(code, (503, 554), text)
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("HELO client.test")[0], 250)
        code, text = c.command("QUIT")
        self.assertEqual(code, 221, text)
        self.assertTrue(c.closed(5))

    def test_a_message_passes_byte_for_byte_dot_stuffing_and_8_bit_included(self):
        sink = SmtpSink(self.procs, dump_dir=os.path.join(self.workdir, "dump"))
        port = self.relay([("sink", sink.port)])
        # Lines that dot-stuffing must get right (a lone ".", which unstuffed
        # would end the message, "..", "..."), 8-bit bytes, trailing blanks,
        # and a line of 998 bytes, the most RFC 5321 allows.
        message = (b"From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: dots\r\n"
                   b"Content-Type: text/plain; charset=iso-8859-1\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                   b".\r\n..\r\n...\r\n.leading dot\r\n. \r\n\xe9t\xe9 \xff\x80\xa0 caf\xe9\r\n"
                   b"trailing blanks   \r\n\r\n\r\n" + b"x" * 998 + b"\r\nlast line\r\n")
        c = self.session(port)
        # Pipelined, as EHLO allows it: the three replies come in order.
        c.send(b"MAIL FROM:<a@example.test> BODY=8BITMIME\r\nRCPT TO:<b@example.test>\r\n"
               b"DATA\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
        c.send(dot_stuff(message))
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        self.assertEqual(c.command("QUIT")[0], 221)
        wait_until(lambda: len(sink.dumps()) >= 1, what="the message at the sink")
        [dump] = sink.dumps()
        self.assertTrue(dump.complete)
        self.assertEqual(dump.all("X-Rcpt-Args"), ["<b@example.test>"])
        self.assertTrue(dump.all("X-Mail-Args")[0].startswith("<a@example.test>"), dump.envelope)
        # smtp-sink writes the message unstuffed, with LF line ends.
        self.assertEqual(dump.message, message.replace(b"\r\n", b"\n"))
        self.wait_transactions("accepted", 1)

    def test_200_messages_through_servers_failing_at_mail_rcpt_and_end_of_data(self):
        # first-available tries them in this order, every time: 421 at MAIL,
        # 450 at RCPT, a close without a word after the end of DATA (when the
        # client was told its recipient is accepted), and then the good one.
        good = SmtpSink(self.procs, dump_dir=os.path.join(self.workdir, "good"), name="good")
        at_mail = SmtpSink(self.procs, args=["-Q", "MAIL"], name="421-at-mail")
        at_rcpt = SmtpSink(self.procs, args=["-r", "RCPT"], name="450-at-rcpt")
        at_dot = SmtpSink(self.procs, args=["-q", "."],
                          dump_dir=os.path.join(self.workdir, "dropped"), name="drop-at-dot")
        port = self.relay([("421-at-mail", at_mail.port), ("450-at-rcpt", at_rcpt.port),
                           ("drop-at-dot", at_dot.port), ("good", good.port)], retries=3)
        r = smtp_source(self.workdir, port, 5, 200, timeout=120)
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout)
        wait_until(lambda: len(good.dumps()) >= 200, timeout=20, what="200 messages at the sink")
        time.sleep(0.3)
        dumps = good.dumps()
        self.assertEqual(len(dumps), 200)
        self.assertEqual([d.message for d in dumps if d.message != SOURCE_DUMPED], [])
        self.assertEqual(sorted(source_recipient_numbers(dumps)), list(range(1, 201)))
        # Each got to the end of DATA on the server that dropped it, once.
        self.assertEqual(len(at_dot.dumps()), 200)
        self.wait_transactions("replayed", 200)
        for result in ("accepted", "tempfail", "rejected"):
            self.assertEqual(self.transactions(result), 0, result)

    def test_a_sink_killed_every_second_under_load_loses_no_message_and_shows_no_error(self):
        # What passthrough cannot hide (smtp_relay_test's sessions in flight
        # on a killed sink fail): here every transaction is replayed, and
        # smtp-source sees no error at all. smtp-sink writes its dump while
        # the message arrives, so a sink killed then leaves a cut dump, and
        # one killed between its write and its 250 a message the replay
        # writes again: what must hold is that every message has a complete
        # dump somewhere.
        count = 5000
        dirs = [os.path.join(self.workdir, f"dump{i}") for i in range(3)]
        sinks = [SmtpSink(self.procs, dump_dir=d, name=f"sink{i}") for i, d in enumerate(dirs)]
        port = self.relay([(f"sink{i}", s.port) for i, s in enumerate(sinks)],
                          balance="round-robin")
        stop = threading.Event()
        kills = []
        failures = []

        def killer():
            try:
                # Every second: the 5000 messages take about 5s on a quiet
                # machine, and each kill must meet transactions in flight.
                while not stop.wait(0.5 if not kills else 1.0):
                    i = len(kills) % 3
                    sinks[i].proc.kill()  # by PID, SIGKILL: a crash, nothing said
                    sinks[i].proc.wait(timeout=10)
                    kills.append(time.monotonic())
                    time.sleep(0.2)  # connections are refused meanwhile
                    sinks[i] = SmtpSink(self.procs, port=sinks[i].port, dump_dir=dirs[i],
                                        name=f"sink{i}-run{len(kills)}")
            except Exception as e:  # reported by the test below
                failures.append(repr(e))
        thread = threading.Thread(target=killer)
        started = time.monotonic()
        thread.start()
        try:
            r = smtp_source(self.workdir, port, 20, count, timeout=180)
        finally:
            stop.set()
            thread.join(timeout=30)
        took = time.monotonic() - started
        self.assertEqual(failures, [])
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout)

        def complete():
            return [d for s in sinks for d in s.dumps() if d.message == SOURCE_DUMPED]
        wait_until(lambda: len(set(source_recipient_numbers(complete()))) >= count, timeout=30,
                   interval=0.5, what=f"{count} messages at the sinks")
        dumps = complete()
        numbers = source_recipient_numbers(dumps)
        files = sum(len(os.listdir(d)) for d in dirs)
        print(f"\n{count} messages in {took:.1f}s, {len(kills)} kills: {len(dumps)} complete "
              f"dumps ({len(numbers) - len(set(numbers))} written twice), {files - len(dumps)} "
              f"cut short; {self.transactions('replayed'):.0f} replayed", file=sys.stderr)
        self.assertGreaterEqual(len(kills), 3, "the run ended before the sinks were killed")
        self.assertEqual(set(numbers), set(range(1, count + 1)))
        # Each message was acknowledged to smtp-source once, and counted once.
        wait_until(lambda: self.transactions("accepted") + self.transactions("replayed") >= count,
                   what="every transaction counted")
        self.assertEqual(self.transactions("accepted") + self.transactions("replayed"), count)
        self.assertGreater(self.transactions("replayed"), 0)
        self.assertEqual(self.transactions("tempfail"), 0)

    def test_a_replay_server_refusing_an_accepted_recipient_gets_451_4_4_0(self):
        # The first server accepts the recipient (and the client is told so),
        # then closes at the end of DATA; the replay's server refuses that
        # recipient. Delivering to fewer recipients than acknowledged would
        # lose mail: the whole transaction is a temporary failure instead.
        first = SmtpSink(self.procs, args=["-q", "."],
                         dump_dir=os.path.join(self.workdir, "first"), name="drop-at-dot")
        second = SmtpSink(self.procs, args=["-v", "-r", "RCPT"],
                          dump_dir=os.path.join(self.workdir, "second"), name="450-at-rcpt")
        port = self.relay([("drop-at-dot", first.port), ("450-at-rcpt", second.port)])
        c = self.session(port)
        self.open_transaction(c)
        c.send(dot_stuff(simple_message()))
        code, text = c.reply()
        self.assertTrue(text.startswith("451 4.4.0"), text)
        # The session goes on.
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("QUIT")[0], 221)
        # The second server was told to forget the transaction, and has no
        # message; the first got it once and never answered it.
        wait_until(lambda: "RSET" in self.sink_log_lines(second), what="RSET at the second")
        lines = self.sink_log_lines(second)
        self.assertLess(lines.index("RCPT TO:<b@example.test>"), lines.index("RSET"), lines)
        self.assertNotIn("DATA", lines)
        self.assertEqual(second.dumps(), [])
        self.assertEqual(len(first.dumps()), 1)
        self.wait_transactions("tempfail", 1)
        self.assertEqual(self.transactions("accepted") + self.transactions("replayed"), 0)

    def test_no_server_takes_the_transaction_451_4_3_0_at_mail_and_the_session_goes_on(self):
        busy = SmtpSink(self.procs, args=["-Q", "CONNECT"], name="421-greeting")
        at_mail = SmtpSink(self.procs, args=["-Q", "MAIL"], name="421-at-mail")
        port = self.relay([("421-greeting", busy.port), ("closed", free_port()),
                           ("421-at-mail", at_mail.port)])
        c = self.session(port)
        code, text = c.command("MAIL FROM:<a@example.test>")
        self.assertTrue(text.startswith("451 4.3.0"), text)
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("NOOP")[0], 250)
        code, text = c.command("MAIL FROM:<a@example.test>")
        self.assertTrue(text.startswith("451 4.3.0"), text)
        self.assertEqual(c.command("QUIT")[0], 221)
        wait_until(lambda: self.transactions("tempfail") >= 1, what="tempfail counted")
        self.assertEqual(self.transactions("accepted") + self.transactions("replayed"), 0)

    def test_every_server_failing_at_end_of_data_451_4_3_0_and_the_session_goes_on(self):
        sinks = [SmtpSink(self.procs, args=["-r", "."],
                          dump_dir=os.path.join(self.workdir, f"dump{i}"), name=f"450-at-dot{i}")
                 for i in range(2)]
        port = self.relay([(f"450-at-dot{i}", s.port) for i, s in enumerate(sinks)])
        c = self.session(port)
        self.open_transaction(c)
        c.send(dot_stuff(simple_message()))
        code, text = c.reply()
        self.assertTrue(text.startswith("451 4.3.0"), text)
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("NOOP")[0], 250)
        self.assertEqual(c.command("QUIT")[0], 221)
        # Each server got the whole message once (and answered 450).
        self.assertEqual([len(s.dumps()) for s in sinks], [1, 1])
        self.wait_transactions("tempfail", 1)
        self.assertEqual(self.transactions("accepted") + self.transactions("replayed"), 0)

    def test_a_5xx_to_rcpt_reaches_the_client_and_is_not_replayed(self):
        refuser = SmtpSink(self.procs, args=["-f", "RCPT"], name="500-at-rcpt")
        good = SmtpSink(self.procs, args=["-v"], name="good")
        port = self.relay([("500-at-rcpt", refuser.port), ("good", good.port)])
        c = self.session(port)
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        # smtp-sink's own reply, code and text.
        self.assertEqual(c.command("RCPT TO:<b@example.test>"),
                         (500, "500 5.3.0 Error: command failed"))
        code, text = c.command("DATA")
        self.assertIn(code, (503, 554), text)
        self.assertEqual(c.command("RSET")[0], 250)
        self.assertEqual(c.command("QUIT")[0], 221)
        time.sleep(0.3)
        self.assertFalse([line for line in self.sink_log_lines(good)
                          if line.startswith("MAIL")], "the transaction was replayed")
        self.assertEqual(self.transactions("replayed"), 0)

    def test_a_5xx_at_end_of_data_is_final(self):
        refuser = SmtpSink(self.procs, args=["-f", "."],
                           dump_dir=os.path.join(self.workdir, "refuser"), name="500-at-dot")
        good = SmtpSink(self.procs, args=["-v"], dump_dir=os.path.join(self.workdir, "good"),
                        name="good")
        port = self.relay([("500-at-dot", refuser.port), ("good", good.port)])
        c = self.session(port)
        self.open_transaction(c)
        c.send(dot_stuff(simple_message()))
        self.assertEqual(c.reply(), (500, "500 5.3.0 Error: command failed"))
        self.assertEqual(c.command("NOOP")[0], 250)
        self.assertEqual(c.command("QUIT")[0], 221)
        self.wait_transactions("rejected", 1)
        self.assertEqual(len(refuser.dumps()), 1)
        self.assertEqual(good.dumps(), [])
        self.assertFalse([line for line in self.sink_log_lines(good)
                          if line.startswith("MAIL")], "the transaction was replayed")
        self.assertEqual(self.transactions("replayed") + self.transactions("accepted"), 0)

    def test_a_30_mib_message_goes_through_the_spool_file_in_little_memory(self):
        sink = SmtpSink(self.procs, dump_dir=os.path.join(self.workdir, "dump"))
        port = self.relay([("sink", sink.port)], max_size="50MB")
        pid = self.sb.proc.pid
        c = self.session(port, timeout=120)
        # A small message first: what any transaction allocates is in the
        # peak before the large one.
        self.open_transaction(c)
        c.send(dot_stuff(simple_message()))
        self.assertEqual(c.reply()[0], 250)
        before = memory_kib(pid, "VmHWM")
        # Lines of 80 bytes (CRLF included), every 1000th starting with a dot.
        body = b"".join((b"." if i % 1000 == 0 else b"L") + b"%07d " % i + b"\xe9" * 8 +
                        b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:61] +
                        b"\r\n" for i in range(30 * 1024 * 1024 // 80))
        message = simple_message("30 MiB", b"") + body
        self.assertGreaterEqual(len(message), 30 * 1024 * 1024)
        code, text = c.command(f"MAIL FROM:<a@example.test> SIZE={len(message)}")
        self.assertEqual(code, 250, text)
        self.assertEqual(c.command("RCPT TO:<b@example.test>")[0], 250)
        self.assertEqual(c.command("DATA")[0], 354)
        c.send(dot_stuff(message))
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        grown = memory_kib(pid, "VmHWM") - before
        print(f"\n30 MiB message: switchboard's peak RSS grew by {grown} KiB", file=sys.stderr)
        self.assertLess(grown, 8 * 1024)
        wait_until(lambda: len(sink.dumps()) >= 2, timeout=30, what="the message at the sink")
        dump = sink.dumps()[-1]
        expected = message.replace(b"\r\n", b"\n")
        self.assertEqual((len(dump.message), hashlib.sha256(dump.message).hexdigest()),
                         (len(expected), hashlib.sha256(expected).hexdigest()))
        # The spool file is unlinked, and closed once the session ends.
        self.assertEqual(os.listdir(self.spool), [])
        self.assertEqual(c.command("QUIT")[0], 221)
        self.assertTrue(c.closed(5))

        def spool_descriptors():
            out = []
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(self.spool):
                    out.append(target)
            return out
        wait_until(lambda: not spool_descriptors(), timeout=5, what="the spool file closed")

    def test_an_oversized_message_gets_552_5_3_4_and_extra_recipients_452_4_5_3(self):
        sink = SmtpSink(self.procs, args=["-v"], dump_dir=os.path.join(self.workdir, "dump"))
        port = self.relay([("sink", sink.port)])  # max-message-size: 1MB, max-recipients: 5
        c = self.session(port)
        # Announced too large: refused at MAIL.
        code, text = c.command("MAIL FROM:<a@example.test> SIZE=2000000")
        self.assertTrue(text.startswith("552 5.3.4"), text)
        rcpts = [f"r{i}@example.test" for i in range(6)]
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        for rcpt in rcpts[:5]:
            self.assertEqual(c.command(f"RCPT TO:<{rcpt}>")[0], 250)
        code, text = c.command(f"RCPT TO:<{rcpts[5]}>")
        self.assertTrue(text.startswith("452 4.5.3"), text)
        self.assertEqual(c.command("DATA")[0], 354)
        # Not announced, found too large: refused after the data, as Postfix
        # does, and nothing of it goes to a server.
        big = simple_message("big", (b"y" * 78 + b"\r\n") * 19000)  # 1.5 MB
        self.assertGreater(len(big), 1000 * 1000)
        c.send(dot_stuff(big))
        code, text = c.reply()
        self.assertTrue(text.startswith("552 5.3.4"), text)
        # The session goes on: a message within the limits, to five.
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        for rcpt in rcpts[:5]:
            self.assertEqual(c.command(f"RCPT TO:<{rcpt}>")[0], 250)
        code, text = c.command(f"RCPT TO:<{rcpts[5]}>")
        self.assertTrue(text.startswith("452 4.5.3"), text)
        self.assertEqual(c.command("DATA")[0], 354)
        c.send(dot_stuff(simple_message()))
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(c.command("QUIT")[0], 221)
        wait_until(lambda: len(sink.dumps()) >= 1, what="the message at the sink")
        time.sleep(0.3)
        [dump] = sink.dumps()
        self.assertEqual(dump.all("X-Rcpt-Args"), [f"<{r}>" for r in rcpts[:5]])
        self.assertEqual(dump.message, simple_message().replace(b"\r\n", b"\n"))
        self.assertEqual(self.sink_log_lines(sink).count("DATA"), 1)
        self.assertGreaterEqual(self.transactions("rejected"), 1)
        self.assertEqual(self.transactions("accepted"), 1)

    def test_swaks_delivers_through_the_relay_and_each_transaction_is_logged(self):
        sink = SmtpSink(self.procs, dump_dir=os.path.join(self.workdir, "dump"))
        port = self.relay([("sink", sink.port)])
        for extra in ([], ["--pipeline"]):  # --pipeline fails without PIPELINING
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--from",
                                "a@example.test", "--to", "b@example.test", "--timeout", "20",
                                *extra], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_until(lambda: len(sink.dumps()) >= 2, what="swaks's messages at the sink")
        dumps = sink.dumps()
        self.assertEqual(len(dumps), 2)
        for d in dumps:
            self.assertTrue(d.complete)
            self.assertEqual(d.all("X-Rcpt-Args"), ["<b@example.test>"])
            self.assertIn(b"X-Mailer: swaks", d.message)
        self.wait_transactions("accepted", 2)
        wait_until(lambda: len([line for line in self.sb.log(settle=0.05).splitlines()
                                if "listener=relay" in line and "a@example.test" in line]) >= 2,
                   what="two access lines")
        lines = [line for line in self.sb.log().splitlines()
                 if "listener=relay" in line and "a@example.test" in line]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all("access" in line for line in lines), lines)

    def test_json_access_records_have_typed_fields(self):
        sink = SmtpSink(self.procs)
        port = self.relay([("sink", sink.port)], log_format="json")
        c = self.session(port)
        for line, code in (("EHLO client.test", 250), ("MAIL FROM:<>", 250),
                           ("RCPT TO:<b@example.test>", 250), ("DATA", 354)):
            self.assertEqual(c.command(line)[0], code, line)
        self.assertEqual(c.command(dot_stuff(simple_message()).decode() + ".")[0], 250)
        c.close()

        def records():
            return [r for r in map(json.loads, self.sb.log(settle=0.05).splitlines())
                    if r.get("type") == "access"]
        wait_until(lambda: records(), what="the transaction's access record")
        (r,) = records()
        self.assertEqual((r["listener"], r["from"], r["server"], r["result"]),
                         ("relay", "", "sink", "accepted"))
        self.assertEqual((r["rcpts"], r["tries"], r["reply"]), (1, 1, 250))
        self.assertEqual(r["size"], len(simple_message()))
        self.assertIsInstance(r["duration_ms"], float)
        self.assertIsInstance(r["connection"], int)


    def test_starttls_with_a_client_certificate_required(self):
        """tls: with client-ca and verify-client: required (Domain Security):
        STARTTLS is offered; swaks with a certificate the CA signed gets its
        message through over TLS, swaks without one is refused at the
        handshake and nothing reaches the sink."""
        server = sbtest.self_signed_certificate(self.workdir, "relay.test")
        client = sbtest.client_certificate(self.workdir)
        sink = SmtpSink(self.procs, dump_dir=os.path.join(self.workdir, "dump"))
        port = self.relay([("sink", sink.port)], listener_lines=f"""\
    tls:
      certificates: [{{cert: {server['cert']}, key: {server['key']}}}]
      client-ca: {client['ca']}
      verify-client: required
""")
        c = self.session(port)
        self.assertIn("STARTTLS", ehlo_keywords(c.command("EHLO client.test")[1]))
        c.close()

        def swaks(*extra):
            return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--tls", "--from",
                                   "a@example.test", "--to", "b@example.test", "--timeout", "20",
                                   *extra], capture_output=True, text=True, timeout=60)
        r = swaks("--tls-cert", client["cert"], "--tls-key", client["key"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("TLS started", r.stdout)
        wait_until(lambda: len(sink.dumps()) >= 1, what="the TLS client's message at the sink")
        r = swaks()
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("<~  250 2.0.0", r.stdout)
        self.wait_transactions("accepted", 1)
        wait_until(lambda: metric_sum(self.admin, "switchboard_tls_handshakes_total",
                                      listener="relay", result="failed") >= 1,
                   what="the refused handshake counted")
        self.assertEqual(metric_sum(self.admin, "switchboard_tls_handshakes_total",
                                    listener="relay", result="ok"), 1)
        self.assertEqual(len(sink.dumps()), 1)

    def test_postfix_sees_the_real_client_through_xclient(self):
        """xclient: true in front of a real Postfix that lets switchboard's
        address use XCLIENT (smtpd_authorized_xclient_hosts): the message
        from 127.0.0.7 is logged by Postfix as that client's, and its session
        as one that used XCLIENT."""
        postfix = PostfixInstance(self.procs, self.workdir,
                                  main_cf=["smtpd_authorized_xclient_hosts = 127.0.0.1"])
        port = self.relay([("postfix", postfix.port)], smtp_lines="      xclient: true\n")
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--local-interface",
                            "127.0.0.7", "--helo", "client7.test", "--from", "a@example.test",
                            "--to", "b@example.test", "--timeout", "20"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_until(lambda: "client=unknown[127.0.0.7]" in postfix.maillog(), timeout=15,
                   what="Postfix logging the message as 127.0.0.7's")
        wait_until(lambda: "disconnect from unknown[127.0.0.7]" in postfix.maillog(), timeout=15,
                   what="Postfix's session ending as 127.0.0.7's")
        self.assertRegex(postfix.maillog(), r"connect from unknown\[127\.0\.0\.1\]")
        self.assertRegex(postfix.maillog(), r"xclient=")
        self.wait_transactions("accepted", 1)

    def test_a_refused_connect_before_the_server_that_took_it_counts_as_replayed(self):
        """The first server's port is closed: a transaction goes to the
        second, and the counter and the access line say it was replayed (two
        servers tried). A worker's first session meets the closed port
        before its transaction (its EHLO waits for a server, to learn what
        they offer with AUTH), so of three sessions on two workers at least
        one transaction is replayed, and none fails."""
        sink = SmtpSink(self.procs)
        port = self.relay([("closed", free_port()), ("sink", sink.port)])
        for _ in range(3):
            r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--from",
                                "a@example.test", "--to", "b@example.test", "--timeout", "20"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_until(lambda: self.transactions("accepted") + self.transactions("replayed") == 3,
                   what="three transactions counted")
        self.assertGreaterEqual(self.transactions("replayed"), 1)
        wait_until(lambda: "tries=2 result=replayed" in self.sb.log(settle=0.05),
                   what="an access line with two tries")

    def test_a_recipient_every_server_defers_gets_their_4xx_and_the_rest_go_through(self):
        """Two real Postfix servers that both greylist one recipient (450):
        the first one's 450 sends the transaction to the second once; the
        second says 450 too, so the client gets that for the recipient while
        its transaction goes on there, and the other two recipients are
        delivered. XCLIENT's HELO stands after switchboard's second EHLO
        (Postfix logs the client's name in its reject line)."""
        grey = ["smtpd_recipient_restrictions = check_recipient_access "
                "inline:{ { grey@example.test = 450 4.7.1 greylisted } }, permit_mynetworks, "
                "reject_unauth_destination",
                "smtpd_authorized_xclient_hosts = 127.0.0.1"]
        first = PostfixInstance(self.procs, self.workdir, name="postfix-a", main_cf=grey)
        second = PostfixInstance(self.procs, self.workdir, name="postfix-b", main_cf=grey)
        port = self.relay([("a", first.port), ("b", second.port)],
                          smtp_lines="      xclient: true\n")
        c = self.session(port)
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<one@example.test>")[0], 250)
        code, text = c.command("RCPT TO:<grey@example.test>")
        self.assertEqual(code, 450, text)
        self.assertIn("greylisted", text)
        self.assertEqual(c.command("RCPT TO:<two@example.test>")[0], 250)
        self.assertEqual(self.data(c), 250)
        wait_until(lambda: "nrcpt=2" in second.maillog(), timeout=15,
                   what="the second Postfix taking the message for two recipients")
        self.assertNotIn("nrcpt=", first.maillog())
        self.assertRegex(second.maillog(), r"reject: RCPT from unknown\[127\.0\.0\.1\]: 450 "
                         r".*helo=<client\.test>")
        self.wait_transactions("replayed", 1)
        # The deferral was an answer, not a failure of the server.
        self.assertEqual(metric_sum(self.admin, "switchboard_server_connect_failures_total",
                                    pool="relay"), 0)

    def test_a_refused_data_command_leaves_the_server_ready_for_the_next_message(self):
        """Postfix refuses DATA for a bounce to two recipients
        (reject_multi_recipient_bounce) and keeps MAIL and RCPT open: the
        client gets the 550 after its message, and its next message on the same session goes
        through the same connection, not into a "nested MAIL" refusal."""
        postfix = PostfixInstance(self.procs, self.workdir, main_cf=[
            "smtpd_data_restrictions = reject_multi_recipient_bounce"])
        port = self.relay([("postfix", postfix.port)])
        c = self.session(port)
        self.assertEqual(c.command("MAIL FROM:<>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<one@example.test>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<two@example.test>")[0], 250)
        self.assertEqual(self.data(c), 550)  # after the message: switchboard records first
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        self.assertEqual(c.command("RCPT TO:<one@example.test>")[0], 250)
        self.assertEqual(self.data(c), 250)
        wait_until(lambda: "from=<a@example.test>" in postfix.maillog(), timeout=15,
                   what="the second message at Postfix")
        self.wait_transactions("rejected", 1)
        self.wait_transactions("accepted", 1)


    def test_auth_is_the_servers_and_pins_the_session(self):
        """Two real Postfix servers with Dovecot SASL that relay only for
        authenticated clients: switchboard offers the servers' AUTH
        mechanisms, passes a wrong password's 535 and a LOGIN exchange
        (334 challenges) through, and the authenticated session relays its
        message through the server it authenticated with (Postfix logs the
        SASL user with it), while an unauthenticated session's RCPT gets the
        server's 554."""
        dovecot = sbtest.Dovecot(self.procs, self.workdir, {"alice": "secret"})
        auth = dovecot.postfix_main_cf() + [
            "mynetworks = 127.0.0.2/32",
            "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination"]
        first = PostfixInstance(self.procs, self.workdir, name="postfix-a", main_cf=auth)
        second = PostfixInstance(self.procs, self.workdir, name="postfix-b", main_cf=auth)
        port = self.relay([("a", first.port), ("b", second.port)], balance="round-robin")

        c = self.session(port)
        offered = ehlo_keywords(c.command("EHLO client.test")[1])
        self.assertEqual(sorted(offered.get("AUTH", [])), ["LOGIN", "PLAIN"], offered)
        self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
        code, text = c.command("RCPT TO:<b@elsewhere.test>")
        self.assertEqual(code, 554, text)  # Relay access denied: no AUTH yet
        self.assertEqual(c.command("RSET")[0], 250)
        wrong = base64.b64encode(b"\0alice\0wrong").decode()
        code, text = c.command(f"AUTH PLAIN {wrong}")
        self.assertEqual(code, 535, text)
        code, text = c.command("AUTH LOGIN")
        self.assertEqual(code, 334, text)
        code, text = c.command(base64.b64encode(b"alice").decode())
        self.assertEqual(code, 334, text)
        code, text = c.command(base64.b64encode(b"secret").decode())
        self.assertEqual(code, 235, text)
        self.assertEqual(c.command("AUTH LOGIN")[0], 503)  # once per session
        for n in range(3):  # round robin would move them: pinned, they stay
            self.assertEqual(c.command("MAIL FROM:<a@example.test>")[0], 250)
            self.assertEqual(c.command(f"RCPT TO:<b{n}@elsewhere.test>")[0], 250)
            self.assertEqual(self.data(c), 250)
        def relayed_for_alice():
            return [p.maillog().count("sasl_method=LOGIN, sasl_username=alice")
                    for p in (first, second)]
        wait_until(lambda: max(relayed_for_alice()) >= 3, timeout=15,
                   what="three messages of alice's at one Postfix")
        self.assertEqual(sorted(relayed_for_alice()), [0, 3])
        self.wait_transactions("accepted", 3)
        self.assertNotIn("secret", self.sb.log())


if __name__ == "__main__":
    unittest.main()
