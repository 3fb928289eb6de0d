"""The pieces of bench/run, the switchboard benchmark runner (Python 3
standard library only; docs: bench/README.md).

  common.py      paths, ports, CPU pinning, log(), the runner's exceptions
  procs.py       /proc reads, starting and stopping processes by PID, reaping
                 what a killed runner left behind, the foreign-CPU window
  net.py         sockets from /proc/net, and one DNS query
  contenders.py  the contenders: names, configuration templates, start/stop
  scenario.py    Metric and the Scenario base class
  scenarios/     one file per scenario, and the registry of their names
  report.py      medians, ratios and the markdown report
  runner.py      Bench: preflight, the binary snapshot, the rounds, writing

idle_conns.py is not part of the package: bench/run starts it as a separate
process (the idle-memory client and hold server).
"""
