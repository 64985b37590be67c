"""The `closeout-cli` subcommands that work on a workspace: workflows, sync, queue, history, runs, undo.

Each opens the Supervisor (the same facade the desktop app uses), does one thing and closes it. `--json`
output is stable: the fields each command prints are listed in the README and only ever grow.
Exit codes: 0 done; 1 an error, said in one line on stderr; 2 a usage mistake; 3 the platform rejected
the token; 4 the platform could not be reached and commands are still queued.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app import secrets
from app.bootstrap import QueueRow, Supervisor
from app.domain.errors import ConfigError
from app.domain.history import AssignmentChange, ChangeSource, HistoryFilter, SyncState
from app.domain.secret import Secret
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun
from app.sync.connectivity import Connectivity

EXIT_TOKEN_REJECTED = 3
EXIT_OFFLINE = 4

Command = Callable[[Supervisor, argparse.Namespace], Awaitable[int]]


class CommandUsageError(Exception):
    """A bad value on the command line (exit code 2); `app.cli` reports it like argparse's own."""


def out(text: str = "") -> None:
    """Write a line to stdout (the CLI's output; logging goes to stderr)."""
    sys.stdout.write(text + "\n")


def emit_json(value: object) -> None:
    """Write a JSON document to stdout."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def with_supervisor(command: Command, *, needs_token: bool = False, **open_options: Any) -> Callable[..., int]:
    """Wrap an async command: open the Supervisor (demo if `--demo`), run, always close."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            options = dict(open_options)
            if args.demo:
                options["demo"] = True
            elif needs_token:
                options["demo"] = False
            for name in ("webhook_port", "webhook_secret", "poll_seconds"):
                if getattr(args, name, None) is not None:
                    options[name] = getattr(args, name)
            supervisor = await Supervisor.open(**options)
            try:
                return await command(supervisor, args)
            finally:
                await supervisor.close()

        return asyncio.run(main())

    return run


# -- parsing helpers -------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(raw: str, now: float | None = None) -> float:
    """`7d`, `12h`, `30m` (that long ago), `2026-11-01` (local midnight), an ISO time, or Unix seconds."""
    now = time.time() if now is None else now
    text = raw.strip()
    if match := _RELATIVE.match(text.lower()):
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandUsageError(f"{raw!r} is not a time: use 7d, 12h, 2026-11-01 or an ISO time") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`key=value` pairs into a dict."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandUsageError(f"--set expects key=value, not {pair!r}")
        values[key.strip()] = value.strip()
    return values


def _iso(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S")


# -- workflows -------------------------------------------------------------------------------------------


def workflow_json(workflow: Workflow) -> dict[str, Any]:
    """A workflow for `--json`."""
    return {
        "id": workflow.id,
        "name": workflow.name,
        "state": workflow.state.value,
        "version": workflow.version,
        "template_id": workflow.template_id,
        "trigger": workflow.trigger.kind.value,
    }


async def cmd_templates(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """List the gallery."""
    templates = supervisor.templates()
    if args.json:
        emit_json(
            [
                {
                    "id": t.id,
                    "category": t.category,
                    "name": t.name,
                    "purpose": t.purpose,
                    "sketch": list(t.sketch),
                    "needs_input": list(t.needs_input),
                }
                for t in templates
            ]
        )
        return 0
    for t in templates:
        needs = f"  (needs: {', '.join(t.needs_input)})" if t.needs_input else ""
        out(f"{t.id:<22} {t.name}{needs}")
        out(f"{'':<22} {' → '.join(t.sketch)}")
    return 0


async def cmd_use_template(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Create a draft from a template (and publish it with --publish); prints the new workflow's id."""
    workflow = await supervisor.use_template(args.template, args.name, parse_sets(args.set))
    assert workflow.id is not None
    if args.publish:
        workflow = await supervisor.publish(workflow.id)
    out(str(workflow.id))
    for warning in supervisor.warnings(workflow):
        sys.stderr.write(f"warning: {warning}\n")
    missing = supervisor.missing_fields(workflow)
    if missing and not args.publish:
        sys.stderr.write("needs input before publishing: " + "; ".join(missing) + "\n")
    return 0


async def cmd_workflows(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """List the workflows with their state, runs today and last outcome."""
    workflows = await supervisor.workflows()
    stats = await supervisor.workflow_stats()
    if args.json:
        items = []
        for w in workflows:
            stat = stats.get(w.id) if w.id is not None else None
            last = stat.last_outcome.value if stat and stat.last_outcome else None
            items.append({**workflow_json(w), "runs_today": stat.runs_today if stat else 0, "last_outcome": last})
        emit_json(items)
        return 0
    if not workflows:
        out("no workflows yet: `closeout-cli use-template unassign-after-close --publish` adds one")
    for w in workflows:
        stat = stats.get(w.id) if w.id is not None else None
        last = f", last: {stat.last_reason}" if stat and stat.last_reason else ""
        out(
            f"{w.id:>4}  {w.state.value:<9} v{w.version}  {w.name}  ({stat.runs_today if stat else 0} runs today{last})"
        )
    return 0


async def cmd_publish(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Publish a workflow."""
    workflow = await supervisor.publish(args.id)
    out(f"published {workflow.name!r} (version {workflow.version})")
    return 0


async def cmd_stop(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Stop a workflow."""
    workflow = await supervisor.stop_workflow(args.id)
    out(f"stopped {workflow.name!r}")
    return 0


async def cmd_export(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Export a workflow to a file (or stdout)."""
    text = await supervisor.export_workflow(args.id)
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def cmd_import(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Import an exported workflow as a new draft; prints its id."""
    workflow = await supervisor.import_workflow(Path(args.file).read_bytes())
    out(str(workflow.id))
    return 0


# -- sync ------------------------------------------------------------------------------------------------


async def cmd_sync(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Sync with the platform: once, until idle, or until stopped."""
    if args.once:
        await supervisor.sync.run_once()
    else:
        await supervisor.start()
        if supervisor.sync.webhook_url:
            sys.stderr.write(f"receiving webhooks at {supervisor.sync.webhook_url}\n")
            sys.stderr.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(supervisor.sync.wait_failure())]
        if args.until_idle:
            waiters.append(asyncio.ensure_future(supervisor.sync.wait_idle(args.idle_seconds)))
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if supervisor.sync.failure is not None:
            raise supervisor.sync.failure
    status = await supervisor.status()
    if status.connectivity is Connectivity.AUTH_FAILED:
        sys.stderr.write(f"the platform rejected the token: {status.detail}\n")
        return EXIT_TOKEN_REJECTED
    if status.connectivity is Connectivity.OFFLINE and status.outbox_depth:
        sys.stderr.write(f"offline with {status.outbox_depth} commands queued: {status.detail}\n")
        return EXIT_OFFLINE
    return 0


# -- queue, history, runs ----------------------------------------------------------------------------------


def queue_json(row: QueueRow) -> dict[str, Any]:
    """A queue row for `--json`."""
    close = row.close
    assignee = close.assignee_at_close
    return {
        "close_id": close.id,
        "event_id": close.event_id,
        "contact_id": close.contact.id,
        "contact_name": close.contact.name,
        "closed_at": close.closed_time,
        "closed_by_source": close.closed_by_source.value,
        "closed_by": close.closed_by.id if close.closed_by else None,
        "category": close.category,
        "channel": close.channel,
        "assignee_at_close": assignee.id if assignee else None,
        "assignee_at_close_name": assignee.name if assignee else None,
        "run_id": row.run.id if row.run else None,
        "outcome": row.status,
        "reason": row.reason,
        "sync_state": row.sync_state.value if row.sync_state else None,
        "runs": [
            {
                "run_id": run.id,
                "workflow_id": run.workflow_id,
                "workflow_version": run.workflow_version,
                "started_at": run.started_at,
                "outcome": run.outcome.value,
                "reason": run.reason,
                "undone": run.undone,
                "undo_of": int(run.key.removeprefix("undo:")) if run.key.startswith("undo:") else None,
            }
            for run in row.runs
        ],
    }


async def cmd_queue(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Closed conversations, newest first, with what happened and why."""
    rows = await supervisor.queue(args.limit)
    if args.json:
        emit_json([queue_json(row) for row in rows])
        return 0
    for row in rows:
        close = row.close
        who = close.assignee_at_close.name if close.assignee_at_close else "unassigned"
        out(
            f"{_iso(close.closed_time)}  {close.contact.name:<24.24} {close.closed_by_source.label:<16} "
            f"{(close.category or '-'):<12.12} {who:<18.18} {row.status:<10} {row.reason}"
        )
    return 0


def change_json(change: AssignmentChange) -> dict[str, Any]:
    """A history row for `--json`."""
    return {
        "id": change.id,
        "at": change.at,
        "contact_id": change.contact_id,
        "conversation_id": change.conversation_id,
        "from_agent_id": change.from_agent_id,
        "to_agent_id": change.to_agent_id,
        "source": change.source.value,
        "actor": change.actor,
        "workflow_id": change.workflow_id,
        "run_id": change.run_id,
        "sync_state": change.sync_state.value,
        "reason": change.reason,
    }


def history_filter(args: argparse.Namespace) -> HistoryFilter:
    """The filter the history options describe."""
    try:
        source = ChangeSource(args.source) if args.source else None
        state = SyncState(args.outcome) if args.outcome else None
    except ValueError as exc:
        raise CommandUsageError(str(exc)) from None
    return HistoryFilter(
        since=parse_when(args.since) if args.since else None,
        until=parse_when(args.until) if args.until else None,
        agent_id=args.agent,
        source=source,
        workflow_id=args.workflow,
        contact_id=args.contact,
        conversation_id=args.conversation,
        sync_state=state,
    )


async def cmd_history(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Assignment changes, newest first, filtered; or all of them to CSV."""
    flt = history_filter(args)
    if args.csv:
        written = await supervisor.export_csv(Path(args.csv), flt)
        sys.stderr.write(f"wrote {written} rows to {args.csv}\n")
        return 0
    page = await supervisor.history_page(flt, limit=args.limit)
    if args.json:
        emit_json([change_json(c) for c in page.rows])
        return 0
    names = {agent_id: agent.name for agent_id, agent in (await supervisor.agents()).items()}

    def who(agent_id: int | None) -> str:
        return "nobody" if agent_id is None else names.get(agent_id, f"user {agent_id}")

    total = await supervisor.history_count(flt)
    for c in page.rows:
        out(
            f"{_iso(c.at)}  contact {c.contact_id:<8} {who(c.from_agent_id):>18.18} → {who(c.to_agent_id):<18.18} "
            f"{c.source.value:<9} {c.sync_state.value:<8} {c.reason}"
        )
    out(f"{len(page.rows)} of {total} changes")
    return 0


def run_json(run: WorkflowRun) -> dict[str, Any]:
    """A run for `--json`."""
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "contact_id": run.contact_id,
        "conversation_id": run.conversation_id,
        "started_at": run.started_at,
        "outcome": run.outcome.value,
        "reason": run.reason,
        "undone": run.undone,
    }


async def cmd_runs(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """The run log, newest first."""
    try:
        outcome = RunOutcome(args.outcome) if args.outcome else None
    except ValueError as exc:
        raise CommandUsageError(str(exc)) from None
    runs = await supervisor.runs(args.workflow, outcome, limit=args.limit)
    if args.json:
        emit_json([run_json(r) for r in runs])
        return 0
    for r in runs:
        undone = " (undone)" if r.undone else ""
        out(
            f"{r.id:>7}  {_iso(r.started_at)}  workflow {r.workflow_id:<4} contact {r.contact_id:<8} {r.reason}{undone}"
        )
    return 0


async def cmd_dry_run(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """What a workflow would have done over past closes; writes nothing."""
    workflow = await supervisor.workflow(args.id)
    report = await supervisor.dry_run(workflow, parse_when(args.since))
    if args.json:
        emit_json(
            {
                "workflow": workflow.name,
                "counts": {outcome.value: n for outcome, n in report.counts.items()},
                "rows": [
                    {
                        "contact_id": r.close.contact.id,
                        "closed_at": r.close.closed_time,
                        "outcome": r.outcome.value,
                        "reason": r.reason,
                    }
                    for r in report.rows
                ],
            }
        )
        return 0
    for r in report.rows:
        out(f"{_iso(r.close.closed_time)}  {r.close.contact.name:<24.24} {r.outcome.value:<8} {r.reason}")
    out(report.summary())
    return 0


async def cmd_undo(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Undo a run: queue the reverse change; `sync` sends it."""
    run = await supervisor.undo(args.run_id)
    out(f"run {run.id}: {run.reason}")
    return 0


async def cmd_status(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Mode, database, outbox and the last sync."""
    status = await supervisor.status()
    workflows = await supervisor.workflows()
    data: dict[str, Any] = {
        "mode": "demo" if supervisor.is_demo else "workspace",
        "api_url": supervisor.sync.client.base_url,
        "database": supervisor.store.db.where,
        "outbox_depth": status.outbox_depth,
        "last_sync": status.last_sync,
        "workflows": len(workflows),
        "published": sum(1 for w in workflows if w.state.value == "published"),
        "closes": await supervisor.store.db.read(supervisor.store.closes.count),
        "token": "set" if secrets.load_token() else "not set",
    }
    if args.json:
        emit_json(data)
        return 0
    shown = {**data, "last_sync": _iso(status.last_sync)}
    for key, value in shown.items():
        out(f"{key:<14} {value}")
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    """Store the API token in the keyring (or a private file where there is none), after checking it."""
    raw = sys.stdin.readline() if args.stdin else getpass.getpass("respond.io API token: ")
    token = Secret(raw)
    if not token:
        raise ConfigError("No token was given.")

    async def check() -> None:
        supervisor = await Supervisor.open(demo=False, token=token)
        try:
            await supervisor.test_connection(token)
        finally:
            await supervisor.close()

    if not args.no_check:
        asyncio.run(check())
    where = secrets.store_token(token)
    out(f"token {token.hint} stored in {where}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    """Forget the stored token."""
    secrets.clear_token()
    out("token forgotten")
    return 0


# -- registration ----------------------------------------------------------------------------------------


def _history_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="from (7d, 12h, 2026-11-01, ISO time, Unix seconds)")
    parser.add_argument("--until", help="until (same forms)")
    parser.add_argument("--agent", type=int, help="changes from or to this agent (user id)")
    parser.add_argument("--source", help="workflow, undo or platform")
    parser.add_argument("--workflow", type=int, help="workflow id")
    parser.add_argument("--contact", type=int, help="contact id")
    parser.add_argument("--conversation", type=int, help="conversation (close) id")
    parser.add_argument("--outcome", help="pending, synced, failed, undone or skipped")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add every workspace subcommand."""

    def add(name: str, help_text: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
        parser.set_defaults(run=run)
        return parser

    parser = add("templates", "list the workflow gallery", with_supervisor(cmd_templates))
    parser.add_argument("--json", action="store_true")
    parser = add("use-template", "create a workflow from a template; prints its id", with_supervisor(cmd_use_template))
    parser.add_argument("template", help="template id (see `templates`)")
    parser.add_argument("--name", help="the workflow's name (default: the template's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fill an input, e.g. team=3")
    parser.add_argument("--publish", action="store_true", help="publish it at once")
    parser = add("workflows", "list workflows", with_supervisor(cmd_workflows))
    parser.add_argument("--json", action="store_true")
    add("publish", "publish a workflow", with_supervisor(cmd_publish)).add_argument("id", type=int)
    add("stop", "stop a workflow", with_supervisor(cmd_stop)).add_argument("id", type=int)
    parser = add("export", "export a workflow as JSON", with_supervisor(cmd_export))
    parser.add_argument("id", type=int)
    parser.add_argument("file", nargs="?", help="where to write (default: stdout)")
    add("import", "import an exported workflow as a draft", with_supervisor(cmd_import)).add_argument("file")

    parser = add("sync", "sync with the platform and run the published workflows", with_supervisor(cmd_sync))
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one poll, then send everything due")
    mode.add_argument("--until-idle", action="store_true", help="also receive webhooks; stop when quiet")
    mode.add_argument("--forever", action="store_true", help="run until SIGINT or SIGTERM")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="quiet time that ends --until-idle")
    parser.add_argument("--webhook-port", type=int, help="receive webhooks on this port (0 picks one)")
    parser.add_argument("--webhook-secret", help="the webhook's signing key")
    parser.add_argument("--poll-seconds", type=float, help="how often to poll")

    parser = add("queue", "closed conversations with their outcome", with_supervisor(cmd_queue))
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser = add("history", "assignment history", with_supervisor(cmd_history))
    _history_options(parser)
    parser.add_argument("--limit", type=int, default=200)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", metavar="FILE", help="export every matching row to FILE")
    parser = add("runs", "the run log", with_supervisor(cmd_runs))
    parser.add_argument("--workflow", type=int)
    parser.add_argument("--outcome", help="done, skipped, failed or waiting")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser = add("dry-run", "what a workflow would have done over past closes", with_supervisor(cmd_dry_run))
    parser.add_argument("id", type=int)
    parser.add_argument("--since", default="7d", help="how far back (default 7d)")
    parser.add_argument("--json", action="store_true")
    add("undo", "undo a run (reassign the previous agent)", with_supervisor(cmd_undo)).add_argument("run_id", type=int)
    parser = add("status", "mode, database, outbox and last sync", with_supervisor(cmd_status))
    parser.add_argument("--json", action="store_true")
    parser = add("login", "store the respond.io API token", cmd_login)
    parser.add_argument("--stdin", action="store_true", help="read the token from standard input")
    parser.add_argument("--no-check", action="store_true", help="store it without asking the platform")
    add("logout", "forget the stored API token", cmd_logout)
