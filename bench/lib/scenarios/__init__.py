"""The scenarios, by the name used on the command line. A new scenario is a
new file here with a Scenario subclass, plus one line in SCENARIOS; the
order of SCENARIOS is the default order of --scenarios. Those in OPT_IN
run only when named: load-bounded alone takes about 2 minutes per
contender and round."""
from .dns_rr import DnsRr
from .h2_tls import H2Tls
from .health_checks import HealthChecks
from .http1_keepalive import Http1Keepalive, Http1Tls
from .idle_memory import IdleMemory
from .load_bounded import LoadBounded
from .sip_calls import SipCalls
from .smtp_inspect import SmtpInspect
from .smtp_relay import SmtpRelay
from .tcp_bulk import TcpBulk
from .tcp_connrate import TcpConnrate

SCENARIOS = {
    "tcp-bulk": TcpBulk,
    "tcp-connrate": TcpConnrate,
    "idle-memory": IdleMemory,
    "health-checks": HealthChecks,
    "smtp-relay": SmtpRelay,
    "smtp-inspect": SmtpInspect,
    "dns-rr": DnsRr,
    "http1-keepalive": Http1Keepalive,
    "http1-tls": Http1Tls,
    "h2-tls": H2Tls,
    "sip-calls": SipCalls,
    "load-bounded": LoadBounded,
}

OPT_IN = ("load-bounded",)
ALL_SCENARIOS = list(SCENARIOS)
DEFAULT_SCENARIOS = [s for s in SCENARIOS if s not in OPT_IN]
