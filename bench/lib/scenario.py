"""The Scenario base class and Metric. A scenario starts its backends once,
then run(contender) measures one contender in one round and returns a dict of
figures (its metrics' keys plus the foreign-CPU window's)."""
import time

from .common import PORT_FRONT
from .contenders import ONE_SCENARIO_ANCHORS


class Metric:
    def __init__(self, key, label, fmt, better=None):
        self.key, self.label, self.fmt, self.better = key, label, fmt, better


class Scenario:
    name = ""
    metrics = []
    backend_port = 0
    load_desc = ""
    front_port = PORT_FRONT  # where the contenders listen (sip-calls: the anchor's port)
    front_tcp = True  # the contenders listen on TCP front_port (sip-calls: UDP only)
    front_udp = False  # the contenders also bind UDP front_port (dns-rr, sip-calls)
    udp_ports = ()  # other UDP ports the scenario binds (checked free at start)
    note = ""  # shown under the load in the report
    raw_extra = []  # result keys shown raw after the metrics in the per-round table

    def __init__(self, bench):
        self.bench = bench
        self.backends = []

    @classmethod
    def tools(cls, contenders):
        """The programs this scenario needs on PATH, beyond taskset and the
        contenders' own (checked before anything starts)."""
        return set()

    def supports(self, contender):
        return contender.name not in ONE_SCENARIO_ANCHORS

    def contender_config(self, name):
        """The configuration text for contender `name`, or None for the default."""
        return None

    def contender_files(self, name):
        """Other files contender `name` reads, {file name: text}, written
        beside its configuration (kamailio's dispatcher.list)."""
        return {}

    def start_backends(self):
        raise NotImplementedError

    def backend_pids(self):
        return [p for b in self.backends for p in b.tree()]

    def settle(self):
        """After a contender stopped: wait until the backends are quiet again."""
        time.sleep(0.5)

    def run(self, contender):
        """One measurement of `contender` (already started); raises BenchError."""
        raise NotImplementedError
