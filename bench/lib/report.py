"""The report: per-contender medians with min-max, ratios switchboard /
anchor on the medians, with-checks / without ratios paired by round, the
raw per-round table, and the commands and configurations, as markdown."""
import os
import statistics

from .common import FOREIGN_LIMIT, LOAD_CPU, PROXY_CPU
from .contenders import ANCHORS, CHECK_PAIRS, SUBJECTS


def fmt_val(metric, v):
    return "–" if v is None else metric.fmt.format(v)


def summarize(metric, values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, "–"
    med = statistics.median(vals)
    s = fmt_val(metric, med)
    if len(vals) > 1:
        s += f" ({fmt_val(metric, min(vals))}–{fmt_val(metric, max(vals))})"
    return med, s


def paired_check_ratios(sc, results):
    """With checks over without, per round, for each CHECK_PAIRS pair that ran:
    the median (min–max) of the per-round ratios. The VM's speed drifts
    between rounds by more than the checks' effect, and the two contenders
    of a round run a few seconds apart."""
    by = {(rnd, cn): r for (rnd, cn, r) in results}
    metrics = [m for m in sc.metrics if m.better]
    rows = []
    for checked, base in CHECK_PAIRS.items():
        cells = []
        for m in metrics:
            ratios = sorted(by[(rnd, checked)][m.key] / by[(rnd, base)][m.key]
                            for (rnd, cn) in by if cn == checked and (rnd, base) in by
                            and by[(rnd, checked)].get(m.key) and by[(rnd, base)].get(m.key))
            if not ratios:
                break
            mid = len(ratios) // 2
            med = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
            cells.append(f"{med:.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f}; {len(ratios)} rounds)")
        if len(cells) == len(metrics):
            rows.append(f"| {checked} / {base} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return (["With checks over without, paired by round: median (min–max) of the per-round "
             "ratios.", "", "| pair | " + " | ".join(m.label for m in metrics) + " |",
             "|" + " --- |" * (len(metrics) + 1)] + rows + [""])


def render(bench, sc, contenders, results, failures):
    """results: list of (round, contender, dict); failures: list of (round, contender, msg)."""
    L = []
    title = f"## {sc.name}"
    if bench.quick:
        title += " — QUICK SMOKE RUN (--quick), not a measurement"
    L += [title, ""]
    L.append(f"- date: {bench.started:%Y-%m-%d %H:%M:%S}; host {os.uname().nodename}, "
             f"kernel {os.uname().release}, {bench.cpu_model}, {os.cpu_count()} CPUs")
    L.append(f"- switchboard: {bench.sb_desc}")
    L.append(f"- anchors: {bench.versions}")
    L.append(f"- load: {sc.load_desc}")
    if sc.note:
        L.append(f"- note: {sc.note}")
    L.append(f"- method: proxy `taskset -c {PROXY_CPU}` with one worker/thread; load generator "
             f"and backends `taskset -c {LOAD_CPU}`; contenders alternated "
             f"{' '.join(c.name for c in contenders)} × {bench.rounds} rounds; median "
             f"(min–max); proxy CPU = Δ Σ /proc/PID/task/*/schedstat[0] over the load")
    L.append("")
    med = {}
    header = ["contender"] + [m.label for m in sc.metrics] + ["foreign CPU (max)"]
    L.append("| " + " | ".join(header) + " |")
    L.append("|" + " --- |" * len(header))
    for c in contenders:
        if not sc.supports(c):
            continue
        rows = [r for (_rnd, cn, r) in results if cn == c.name]
        cells = [c.name]
        for m in sc.metrics:
            v, s = summarize(m, [r.get(m.key) for r in rows])
            med[(c.name, m.key)] = v
            cells.append(s)
        fmax = max((r["foreign"] for r in rows), default=None)
        nfail = sum(1 for (_r, cn, _m) in failures if cn == c.name)
        fcell = "–" if fmax is None else f"{fmax * 100:.1f}%" + (" ⚠" if fmax > FOREIGN_LIMIT else "")
        if nfail:
            fcell += f"; {nfail} round(s) failed"
        cells.append(fcell)
        L.append("| " + " | ".join(cells) + " |")
    L.append("")

    # Ratios switchboard/anchor, on the medians.
    subjects = [c.name for c in contenders if c.name in SUBJECTS and sc.supports(c)]
    anchors = [c.name for c in contenders if c.name in ANCHORS and sc.supports(c)]
    rmetrics = [m for m in sc.metrics if m.better]
    if subjects and anchors:
        L.append("Ratios switchboard / anchor (medians). Throughput: ≥ 1.00 is better; "
                 "CPU, latency, memory per unit: ≤ 1.00 is better.")
        L.append("")
        cols = [f"vs {a}" for a in anchors] + (["vs best anchor"] if len(anchors) > 1 else [])
        L.append("| ratio | " + " | ".join(cols) + " |")
        L.append("|" + " --- |" * (len(cols) + 1))
        for s in subjects:
            for m in rmetrics:
                sv = med.get((s, m.key))
                cells = []
                avals = []
                for a in anchors:
                    av = med.get((a, m.key))
                    if av is not None:
                        avals.append(av)
                    cells.append(f"{sv / av:.2f}" if sv is not None and av else "–")
                if len(anchors) > 1:
                    best = (max(avals) if m.better == "higher" else min(avals)) if avals else None
                    cells.append(f"{sv / best:.2f}" if sv is not None and best else "–")
                arrow = "higher is better" if m.better == "higher" else "lower is better"
                L.append(f"| {s} {m.label} ({arrow}) | " + " | ".join(cells) + " |")
        L.append("")

    L += paired_check_ratios(sc, results)

    warns = [(rnd, cn, r) for (rnd, cn, r) in results if r["foreign"] > FOREIGN_LIMIT]
    if warns:
        L.append(f"**WARNING: foreign CPU above {FOREIGN_LIMIT:.0%} of a core in "
                 f"{len(warns)} of {len(results)} measurements — other processes were running; "
                 f"rerun these numbers on a quiet machine.**")
        L.append("")
    for (rnd, cn, msg) in failures:
        L.append(f"**FAILED: round {rnd}, {cn}: {msg}**")
        L.append("")

    L.append("Raw per-round numbers (foreign = /proc/stat non-idle minus known PIDs' schedstat, "
             "the load generator's rusage and kernel threads, in % of one core; "
             "foreign-scan = other processes' schedstat; top = largest other processes):")
    L.append("")
    keys = [m for m in sc.metrics]
    extra = list(sc.raw_extra)
    header = ["round", "contender"] + [m.label for m in keys] + extra + \
        ["foreign", "foreign-scan", "kthreads", "top foreign"]
    L.append("| " + " | ".join(header) + " |")
    L.append("|" + " --- |" * len(header))
    for (rnd, cn, r) in results:
        cells = [str(rnd), cn] + [fmt_val(m, r.get(m.key)) for m in keys]
        cells += [str(r.get(k, "")) for k in extra]
        cells += [f"{r['foreign'] * 100:.1f}%" + (" ⚠" if r["foreign"] > FOREIGN_LIMIT else ""),
                  f"{r['foreign_scan'] * 100:.1f}%", f"{r['kthreads'] * 100:.1f}%",
                  r["top"] or "–"]
        L.append("| " + " | ".join(cells) + " |")
    for (rnd, cn, msg) in failures:
        L.append(f"| {rnd} | {cn} | FAILED: {msg.splitlines()[0][:200]} |")
    L.append("")
    L.append("Commands (pinning included):")
    L.append("")
    for key in [f"backend {sc.name}", f"load {sc.name}"]:
        if key in bench.commands:
            L.append(f"- {key.split()[0]}: `{bench.commands[key]}`")
    confs = []
    for c in contenders:
        key = f"{sc.name} {c.name} {sc.backend_port}"
        if sc.supports(c) and key in bench.commands:
            L.append(f"- {c.name}: `{bench.commands[key]}`")
            confs.append((c.name, bench.configs[key]))
    L.append("")
    for name, text in confs:
        L.append(f"<details><summary>{name} configuration</summary>")
        L.append("")
        L.append("```")
        L.append(text.rstrip())
        L.append("```")
        L.append("")
        L.append("</details>")
        L.append("")
    return "\n".join(L)
