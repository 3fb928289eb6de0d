"""smtp-inspect: smtp-relay's load through switchboard's smtp listener in
inspect mode (switchboard speaks SMTP itself and relays each transaction,
250 only after a server's), beside haproxy in tcp mode with the same
backends. Run it with smtp-relay (switchboard's passthrough) to see the CPU
per message of inspecting next to passthrough's."""
from .smtp_relay import SmtpRelay


class SmtpInspect(SmtpRelay):
    """smtp-source -> proxy -> three smtp-sink; switchboard inspects."""
    name = "smtp-inspect"

    def __init__(self, bench):
        super().__init__(bench)
        self.load_desc = self.load_desc.replace("through the proxy",
                                                "through the proxy (switchboard: inspect mode)")

    def contender_config(self, name):
        # smtp-relay's configuration, the listener switched to inspect mode.
        conf = super().contender_config(name)
        if name in ("switchboard", "switchboard-base"):
            conf = conf.replace("# written by bench/run (smtp-relay)",
                                "# written by bench/run (smtp-inspect)").replace(
                "smtp: {mode: passthrough,", "smtp: {mode: inspect, hostname: bench.test,")
        return conf
