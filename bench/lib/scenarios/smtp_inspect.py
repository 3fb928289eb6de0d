"""smtp-inspect: smtp-relay's load through switchboard's smtp listener in
inspect mode (switchboard speaks SMTP itself and relays each transaction,
250 only after a server's), beside haproxy in tcp mode with the same
backends. Run it with smtp-relay (switchboard's passthrough) to see the CPU
per message of inspecting next to passthrough's."""
from ..common import PORT_FRONT, PORT_SMTP, switchboard_head
from .smtp_relay import SmtpRelay


class SmtpInspect(SmtpRelay):
    """smtp-source -> proxy -> three smtp-sink; switchboard inspects."""
    name = "smtp-inspect"

    def __init__(self, bench):
        super().__init__(bench)
        self.load_desc = self.load_desc.replace("through the proxy",
                                                "through the proxy (switchboard: inspect mode)")

    def contender_config(self, name):
        if name not in ("switchboard", "switchboard-base"):
            return super().contender_config(name)
        lines = "".join(f"      - {{address: 127.0.0.1:{p}, name: sink{i}}}\n"
                        for i, p in enumerate(PORT_SMTP, 1))
        return switchboard_head("smtp-inspect") + f"""\
pools:
  relay:
    balance: round-robin
    health: {{check: none}}
    servers:
{lines}listeners:
  smtp-vip:
    listen: ["127.0.0.1:{PORT_FRONT}"]
    protocol: smtp
    pool: relay
    smtp: {{mode: inspect, hostname: bench.test, banner-timeout: 10s}}
    max-connections: 20000
"""
