"""`kubeops respond check|replay|audit|run` as a user types them, each in a process of
its own: rule files checked for CI, a recorded storm replayed, the audit log queried."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

from kubeops.respond.audit import AuditLog, AuditRecord
from kubeops.respond.event import Event
from kubeops.respond.replay import event_to_json
from kubeops.testenv import Cluster

RULES = """\
rules:
  - name: restart-web
    description: restart web Pods that change
    trigger: {source: resource, kind: Pod, names: [modified], selector: app=web}
    actions: [{restart: {target: owner}}]
    safety: {cooldown: 5m, maxActions: {count: 3, per: 10m}}
  - name: page-db
    trigger: {source: http, names: [server_down]}
    actions: [{notify: {webhook: {url: "http://127.0.0.1:9/hook"}, message: "db down"}}]
"""
BAD = """\
rules:
  - name: restart-web
    triger: {source: resource}
    trigger: {source: resourse, kind: Pod}
    actions: [{restrat: {}}]
    safety: {cooldown: soon}
"""


def kubeops(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeops", *args],
        capture_output=True, text=True, timeout=120, check=False, input=stdin,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip


def test_check_lists_the_rules_or_every_problem_one_per_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "web.yaml").write_text(RULES)
    done = kubeops("respond", "check", "--rules", str(rules))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "EVENTS", "ACTIONS", "SAFETY", "ORIGIN"]
    assert lines[1].split()[:4] == ["restart-web", "resource", "Pod:modified", "restart"]
    assert "cooldown 5m, max 3/10m" in lines[1]
    assert done.stderr == "2 rules valid\n"
    as_json = json.loads(kubeops("respond", "check", "--rules", str(rules), "-o", "json").stdout)
    assert [r["name"] for r in as_json["rules"]] == ["restart-web", "page-db"]

    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    # Connection flags before the command are accepted (and not needed) as with kubectl.
    done = kubeops("--context", "prod", "respond", "check", "--rules", str(rules), str(bad))
    assert done.returncode == 1
    assert done.stdout == ""
    expected = [
        f"{bad}:2: rule restart-web: name: defined twice (first at {rules / 'web.yaml'}:2); "
        "rule names must be unique",
        f"{bad}:3: rule restart-web: triger: unknown key (did you mean 'trigger'?); "
        "known: name, description, trigger, conditions, actions, safety",
        f"{bad}:4: rule restart-web: trigger.source: unknown source 'resourse' (did you mean "
        "'resource'?); known: resource, event, derived, usage, http, alert, schedule",
        f"{bad}:5: rule restart-web: actions[0]: unknown action 'restrat' (did you mean "
        "'restart'?); known: ",
        f"{bad}:6: rule restart-web: safety.cooldown: must be a duration like 30s, 5m or 1h, "
        "not 'soon'",
        "kubeops: error: 5 problems in the rules",
    ]
    got = done.stderr.splitlines()
    assert len(got) == len(expected), done.stderr
    for line, start in zip(got, expected, strict=True):
        assert line.startswith(start), (line, start)
    missing = kubeops("respond", "check", "--rules", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"{tmp_path / 'nope.yaml'}: cannot read")
    mistyped = kubeops("respond", "check", "--rulez", "x")
    assert mistyped.returncode != 0
    assert len(mistyped.stderr.strip().splitlines()) == 1


def recording(tmp_path: Path) -> Path:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "labels": {"app": "web"}}}  # fmt: skip
    events = [
        Event(
            "modified", "resource", start + datetime.timedelta(minutes=m), {}, pod, identity=f"e{m}"
        )
        for m in (0, 1, 7)
    ] + [Event("server_down", "http", start, {"host": "db-0"}, identity="h1")]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event_to_json(e) + "\n" for e in events))
    return path


def test_replay_shows_what_the_rules_would_have_done_and_changes_nothing(
    tmp_path: Path, kube_cluster: Cluster
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    events = recording(tmp_path)
    done = kubeops("respond", "replay", "--rules", str(rules), "--events", str(events))
    assert done.returncode == 0, done.stderr
    rows = [line.split()[:6] for line in done.stdout.splitlines()[1:]]
    assert [r for r in rows if r[3] != "-"] == [
        ["restart-web", "modified", "pod/shop/web-1", "restart", "dry-run", "-"],
        ["restart-web", "modified", "pod/shop/web-1", "restart", "suppressed", "cooldown"],
        ["restart-web", "modified", "pod/shop/web-1", "restart", "dry-run", "-"],
        ["page-db", "server_down", "-", "notify", "dry-run", "-"],
    ]
    assert done.stderr == "8 decisions: 3 dry-run, 4 fired, 1 suppressed/cooldown\n"
    # From standard input, as JSON, planned against a cluster (reads only): the Pod is not
    # there, so planning its restart fails and says so.
    planned = kubeops(
        "respond", "replay", "--rules", str(rules), "--events", "-", "-o", "json", "--plan",
        "--kubeconfig", str(kube_cluster.kubeconfig), stdin=events.read_text(),
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    decisions = json.loads(planned.stdout)
    restart = [d for d in decisions if d["action"] == "restart"]
    assert restart[0]["outcome"] == "failed"
    assert "web-1" in restart[0]["detail"]
    assert all(d["dry_run"] for d in decisions)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(events.read_text() + "{oops\n")
    done = kubeops("respond", "replay", "--rules", str(rules), "--events", str(broken))
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"kubeops: error: {broken}:5: not an event: not JSON: unexpected character, expected a string key"
    )


def test_audit_queries_by_rule_object_outcome_and_time(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    now = datetime.datetime.now(datetime.UTC)

    async def fill() -> None:
        log = await AuditLog.open(url)
        for minutes, rule, outcome, reason, subject in [
            (90, "restart-web", "succeeded", "", "pod/shop/web-1"),
            (20, "restart-web", "suppressed", "cooldown", "pod/shop/web-1"),
            (10, "restart-web", "succeeded", "", "pod/shop/web-2"),
            (5, "page-db", "failed", "", ""),
        ]:
            log.record(AuditRecord(
                time=now - datetime.timedelta(minutes=minutes), rule=rule, outcome=outcome,
                reason=reason, subject=subject, action="restart", event_name="modified",
                detail="restart deployment/shop/web",
            ))  # fmt: skip
        await log.close()

    asyncio.run(fill())
    done = kubeops("respond", "audit", "--audit-url", url, "--rule", "restart-web", "--since", "1h")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "TIME",
        "RULE",
        "EVENT",
        "OBJECT",
        "ACTION",
        "OUTCOME",
        "REASON",
        "DETAIL",
    ]
    assert [line.split()[4] for line in lines[1:]] == ["pod/shop/web-2", "pod/shop/web-1"]
    found = json.loads(kubeops(
        "respond", "audit", "--audit-url", url, "--object", "po/shop/web-1", "--outcome",
        "suppressed", "-o", "json",
    ).stdout)  # fmt: skip
    assert [(r["outcome"], r["reason"]) for r in found] == [("suppressed", "cooldown")]
    assert (
        len(
            json.loads(
                kubeops("respond", "audit", "--audit-url", url, "--limit", "1", "-o", "json").stdout
            )
        )
        == 1
    )
    none = kubeops("respond", "audit", "--audit-url", url, "--rule", "nothing")
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "No decisions found.\n")
    for flags, message in [
        (("--since", "yesterday"), "--since 'yesterday' is neither a duration"),
        (("--outcome", "done"), "--outcome 'done' is not one of"),
        (("--object", "web-1"), "--object 'web-1': write KIND/NAMESPACE/NAME"),
    ]:
        bad = kubeops("respond", "audit", "--audit-url", url, *flags)
        assert bad.returncode == 1
        assert bad.stderr.startswith("kubeops: error: respond audit: ")
        assert message in bad.stderr
        assert len(bad.stderr.splitlines()) == 1


def test_audit_on_a_log_not_written_yet_answers_empty_and_creates_nothing(
    tmp_path: Path,
) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path)}
    default = tmp_path / "kubeops" / "respond-audit.db"
    told = f"no audit log at {default} yet (kubeops respond run writes it)\n"
    done = kubeops("respond", "audit", "--rule", "restart-web", env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", told)
    as_json = kubeops("respond", "audit", "-o", "json", env=env)
    assert (as_json.returncode, json.loads(as_json.stdout), as_json.stderr) == (0, [], told)
    elsewhere = tmp_path / "other.db"
    named = kubeops("respond", "audit", "--audit-url", f"sqlite:///{elsewhere}", env=env)
    assert named.returncode == 0
    assert named.stderr == f"no audit log at {elsewhere} yet (kubeops respond run writes it)\n"
    assert list(tmp_path.iterdir()) == []  # neither the files nor their directory
    bad = kubeops("respond", "audit", "--since", "soon", env=env)
    assert bad.returncode == 1  # bad flags are still refused first


def test_run_refuses_bad_rules_before_starting(tmp_path: Path, kube_cluster: Cluster) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    done = kubeops(
        "respond", "run", "--rules", str(bad), "--kubeconfig", str(kube_cluster.kubeconfig)
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "kubeops: error: 4 problems in the rules", done.stderr
    assert done.stderr.splitlines()[0].startswith(f"{bad}:3: rule restart-web: triger: unknown key")
    helped = kubeops("respond", "--help")
    assert helped.returncode == 0
    for command in ("check", "replay", "audit", "run"):
        assert command in helped.stdout
    assert "``" not in helped.stdout  # plain text, no reStructuredText markup
