"""Correctness after the load: nothing lost, nothing twice, one analysis per trigger.

A trigger is what asks for an analysis of a site: a dispatcher pass taking the site's
"new data" mark (``new_data``), the hourly re-analysis (``hourly``), or a person's request
(``manual``). One run per site per trigger means: each trigger queued one run for the site
(never two, also with two dispatchers racing), and each run was analysed exactly once (the
workers' log lines ``site analysed … run_id=N``, one per execution), finished, without error.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

# The workers log one line per analysis: ``site analysed org_id=1 site_pk=3 run_id=12 …``
# (plain text or a JSON line: the fields are found by name either way).
ANALYSED = "site analysed"
FIELD = r"\b{}\W{{1,4}}(\d+)"
TRIGGERS = ("new_data", "hourly", "manual")


class Verdict(NamedTuple):
    """One correctness check: its name, whether it held, and the figures behind it."""

    name: str
    ok: bool
    detail: str


def executions(log_paths, organization_id):
    """Count, per run id of the organization, the analyses the workers logged."""
    counts = Counter()
    organization, run = re.compile(FIELD.format("org_id")), re.compile(FIELD.format("run_id"))
    for path in log_paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            if ANALYSED not in line:
                continue
            found_organization, found_run = organization.search(line), run.search(line)
            if found_organization is None or found_run is None:
                raise SystemExit(f"an analysis log line without org_id or run_id: {line}")
            if int(found_organization.group(1)) == organization_id:
                counts[int(found_run.group(1))] += 1
    return counts


def runs_per_site(runs, site_ids):
    """Return ``{site_id: Counter(trigger)}`` of the runs."""
    table = {site_id: Counter() for site_id in site_ids}
    for run in runs:
        table.setdefault(run.site_id, Counter())[run.trigger] += 1
    return table


def run_verdicts(runs, load_runs, executed, site_ids, manual_answer):
    """Verdicts on the runs: each analysed once and finished (``runs``: all of them), and
    at most one hourly and one manual run per site during the load (``load_runs``)."""
    verdicts = []
    twice = {run.id: executed[run.id] for run in runs if executed[run.id] > 1}
    never = [run.id for run in runs if run.status == "succeeded" and executed[run.id] == 0]
    unknown = sorted(set(executed) - {run.id for run in runs})
    verdicts.append(
        Verdict(
            "every run analysed exactly once",
            not twice and not never and not unknown,
            f"{len(runs)} runs, {sum(executed.values())} analyses logged"
            + (f"; twice: {twice}" if twice else "")
            + (f"; never logged: {never[:10]}" if never else "")
            + (f"; logged without a run row: {unknown[:10]}" if unknown else ""),
        )
    )
    status = Counter(run.status for run in runs)
    errors = [f"{run.id}: {run.error}" for run in runs if run.error]
    verdicts.append(
        Verdict(
            "every run succeeded, none left queued or running",
            set(status) <= {"succeeded"} and not errors,
            ", ".join(f"{key} {value}" for key, value in sorted(status.items()))
            + (f"; errors: {errors[:3]}" if errors else ""),
        )
    )
    table = runs_per_site(load_runs, site_ids)
    extra = {
        site: dict(counts)
        for site, counts in table.items()
        if counts["hourly"] > 1 or counts["manual"] > 1
    }
    verdicts.append(
        Verdict(
            "hourly and manual runs at most one per site",
            not extra,
            f"over the limit: {extra}" if extra else f"{len(table)} sites",
        )
    )
    answered = Counter(run["site_id"] for run in manual_answer)
    verdicts.append(
        Verdict(
            "a manual request answers one run per site",
            answered == Counter(site_ids),
            f"{len(manual_answer)} runs for {len(answered)} of {len(site_ids)} sites",
        )
    )
    return verdicts


def probe_verdicts(replay_probe, data_probe, site_ids):
    """Verdicts on the quiet-time probes: replays trigger nothing, new data one run a site.

    ``replay_probe`` is ``(due site ids, runs)`` right after one exact replay per site;
    ``data_probe`` is ``(runs, executions)`` once one new batch per site has been analysed.
    """
    due, replay_runs = replay_probe
    probe_runs, executed = data_probe
    per_site = defaultdict(list)
    for run in probe_runs:
        per_site[run.site_id].append(run)
    wrong = {
        site: [(run.trigger, run.status, executed[run.id]) for run in per_site[site]]
        for site in site_ids
        if [(r.trigger, r.status, executed[r.id]) for r in per_site[site]]
        != [("new_data", "succeeded", 1)]
    }
    return [
        Verdict(
            "exact replays trigger no analysis",
            not due and not replay_runs,
            f"{len(site_ids)} replays: {len(due)} sites marked due, {len(replay_runs)} runs",
        ),
        Verdict(
            "one new batch per site: one new_data run per site, analysed once",
            not wrong and len(probe_runs) == len(site_ids),
            f"{len(probe_runs)} runs for {len(site_ids)} sites"
            + (f"; wrong: {wrong}" if wrong else ""),
        ),
    ]
