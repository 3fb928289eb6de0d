"""The scenarios, by the name used on the command line. A new scenario is a
new file here with a Scenario subclass, plus one line in SCENARIOS; the
order of SCENARIOS is the default order of --scenarios."""
from .dns_rr import DnsRr
from .health_checks import HealthChecks
from .idle_memory import IdleMemory
from .smtp_relay import SmtpRelay
from .tcp_bulk import TcpBulk
from .tcp_connrate import TcpConnrate

SCENARIOS = {
    "tcp-bulk": TcpBulk,
    "tcp-connrate": TcpConnrate,
    "idle-memory": IdleMemory,
    "health-checks": HealthChecks,
    "smtp-relay": SmtpRelay,
    "dns-rr": DnsRr,
}

ALL_SCENARIOS = list(SCENARIOS)
