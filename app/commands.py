"""The `closeout-cli` subcommands that work on a workspace: workflows, sync, queue, history, runs, undo.

Each opens the Supervisor (the same facade the desktop app uses), does one thing and closes it. `--json`
output is stable: the fields each command prints are listed in the README and only ever grow.
Exit codes: 0 done; 1 an error, said in one line on stderr; 2 a usage mistake; 3 the platform rejected
the token; 4 the platform could not be reached (what was queued stays queued).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import getpass
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app import portable, secrets
from app.bootstrap import Supervisor, TeamMember
from app.domain.availability import WHERE_SET, Presence, WorkingHours
from app.domain.errors import AuthRejected, ConfigError, Offline
from app.domain.history import AssignmentChange, ChangeSource, HistoryFilter, SyncState
from app.domain.queue import QueueRow
from app.domain.secret import Secret
from app.domain.signing_keys import EVENT_LABELS, SigningKey, parse_key_option, signing_key
from app.domain.workflow_codec import MAX_ID
from app.domain.workflows import RunOutcome, Workflow, WorkflowRun
from app.settings import ALL_SETTINGS, DB_URL, POLL_SECONDS, WEBHOOK_PORT, Setting, Settings
from app.sync.connectivity import Connectivity

if TYPE_CHECKING:
    from app.sync.service import OnceReport, SyncStatus

EXIT_TOKEN_REJECTED = 3
EXIT_OFFLINE = 4
EXIT_WORK_LEFT = 5
TOKEN_CHECK_TICKS = 5  # look for a newly stored token every fifth second while the token is rejected

Command = Callable[[Supervisor, argparse.Namespace], Awaitable[int]]
T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


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
            for name in ("webhook_port", "poll_seconds"):
                if getattr(args, name, None) is not None:
                    options[name] = getattr(args, name)
            if getattr(args, "webhook_secret", None):
                options["webhook_keys"] = key_options(args.webhook_secret)
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


LATEST = 253_402_300_799.0
"""9999-12-31 23:59:59 UTC: the last moment `datetime` and the database's integer seconds both hold."""


def parse_when(raw: str, now: float | None = None) -> float:
    """`7d`, `12h`, `30m` (that long ago), `2026-11-01` (local midnight), an ISO time, or Unix seconds."""
    now = time.time() if now is None else now
    text = raw.strip()
    if match := _RELATIVE.match(text.lower()):
        return _in_range(raw, now - float(match.group(1)) * _UNITS[match.group(2)])
    try:
        return _in_range(raw, float(text))
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return _in_range(raw, moment.timestamp())
    except (ValueError, OverflowError, OSError):
        raise CommandUsageError(f"{raw!r} is not a time: use 7d, 12h, 2026-11-01 or an ISO time") from None


def _in_range(raw: str, at: float) -> float:
    if not 0 <= at <= LATEST:  # also refuses NaN
        raise CommandUsageError(f"{raw!r} is outside the times Closeout keeps (1970 to the year 9999)")
    return at


def whole_number(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse type for a whole number from `low` to `high`; anything else is refused in words."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what} (a whole number from {low} to {high})")
        return value

    return parse


record_id = whole_number(1, MAX_ID, "an id")
"""An argparse type: the id of a workflow, run, contact, user or conversation."""
limit = whole_number(1, 1_000_000, "a number of rows")
"""An argparse type: how many rows to show."""


def seconds(raw: str) -> float:
    """An argparse type: a length of time in seconds, more than 0."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not 0 < value < 365 * 86_400:
        raise argparse.ArgumentTypeError(f"{raw!r} must be more than 0 seconds and less than a year")
    return value


def from_setting(setting: Setting[Any]) -> Callable[[str], Any]:
    """An argparse type that parses and bounds a value as its declaration in `app.settings` says."""

    def parse(raw: str) -> Any:
        try:
            return setting.parse(raw)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return parse


SYNC_SETTINGS: tuple[Setting[Any], ...] = (WEBHOOK_PORT, POLL_SECONDS)
"""Settings that `sync` takes as flags of its own: they mean something only to a process that syncs."""
GLOBAL_SETTINGS: tuple[Setting[Any], ...] = tuple(
    s for s in ALL_SETTINGS if s.env is not None and not s.secret and s not in SYNC_SETTINGS
)
"""Settings every command takes as a flag, before the command; a signing key is never typed on a command line."""
_METAVARS = {str: "TEXT", int: "N", float: "NUMBER", bool: "YES|NO"}


def setting_flag(setting: Setting[Any]) -> str:
    """The command-line flag for a setting: its key with dashes (`poll_seconds` is `--poll-seconds`)."""
    return "--" + setting.key.replace("_", "-")


def add_setting_flags(
    parser: argparse.ArgumentParser, settings: Sequence[Setting[Any]], words: Mapping[str, str] | None = None
) -> None:
    """One flag per setting, typed, bounded and described by its declaration (`words` replaces a description)."""
    for setting in settings:
        bounds = ""
        if setting.minimum is not None and setting.maximum is not None:
            bounds = f" ({setting.minimum:g} to {setting.maximum:g})"
        described = (words or {}).get(setting.key, setting.description)
        parser.add_argument(
            setting_flag(setting),
            dest=setting.key,
            metavar="URL" if setting.key.endswith("_url") else _METAVARS[setting.kind],
            type=from_setting(setting),
            help=f"{described.rstrip('.')}{bounds}" + (f"; {setting.env}" if setting.env else ""),
        )


def apply_global_settings(args: argparse.Namespace) -> None:
    """Put each global setting given as a flag in force for this process, through its environment variable.

    A flag beats the environment, which beats the settings file (as `Settings.get` reads them).
    """
    for setting in GLOBAL_SETTINGS:
        value = getattr(args, setting.key, None)
        if value is not None and value != "" and setting.env is not None:
            os.environ[setting.env] = str(value)


def one_of(kind: type[E]) -> Callable[[str], E]:
    """An argparse type for one value of an enum; a wrong one is told the values there are."""

    def parse(raw: str) -> E:
        try:
            return kind(raw.strip().lower())
        except ValueError:
            choices = ", ".join(member.value for member in kind)
            raise argparse.ArgumentTypeError(f"{raw!r} is not one of: {choices}") from None

    return parse


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """`key=value` pairs into a dict."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandUsageError(f"--set expects key=value, not {pair!r}")
        values[key.strip()] = value.strip()
    return values


def checked(parse: Callable[[str], T], raw: str, option: str = "") -> T:
    """`parse(raw)`, with a ConfigError turned into a usage mistake (exit 2) in the same words."""
    try:
        return parse(raw)
    except ConfigError as exc:
        raise CommandUsageError(f"{option}: {exc}" if option else str(exc)) from None


def key_options(values: list[str]) -> list[SigningKey]:
    """The `--webhook-secret` values as signing keys (`closed=KEY` or a bare key), or a usage error in words."""
    return [
        checked(functools.partial(parse_key_option, position=position), raw, "--webhook-secret")
        for position, raw in enumerate(values, start=1)
    ]


def _iso(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fit(text: str, width: int) -> str:
    """`text` padded to `width`, or cut at a word boundary with an ellipsis when it is longer."""
    if len(text) <= width:
        return text.ljust(width)
    cut = text[: width - 1]
    if " " in cut and not text[width - 1].isspace():
        cut = cut[: cut.rindex(" ")]
    return (cut.rstrip() + "…").ljust(width)


def column_width(values: list[str], cap: int) -> int:
    """The width of a column that holds `values`: the longest of them, at most `cap`."""
    return min(max((len(v) for v in values), default=1), cap)


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
    templates = supervisor.workflow_service.templates()
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
    workflow = (await supervisor.workflow_service.use_template(args.template, args.name, parse_sets(args.set))).result
    assert workflow.id is not None
    workflow_id = workflow.id
    if args.publish:
        workflow = (await supervisor.workflow_service.publish(workflow_id)).result
    out(str(workflow.id))
    for warning in supervisor.workflow_service.warnings(workflow):
        sys.stderr.write(f"warning: {warning}\n")
    if args.publish:
        for warning in await supervisor.workflow_service.overlap_warnings(workflow_id):
            sys.stderr.write(f"warning: {warning}\n")
    missing = supervisor.workflow_service.missing_fields(workflow)
    if missing and not args.publish:
        sys.stderr.write("needs input before publishing: " + "; ".join(missing) + "\n")
    return 0


async def cmd_workflows(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """List the workflows with their state, runs today and last outcome."""
    workflows = await supervisor.workflow_service.workflows()
    stats = await supervisor.workflow_service.workflow_stats()
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
    workflow = (await supervisor.workflow_service.publish(args.id)).result
    out(f"published {workflow.name!r} (version {workflow.version})")
    for warning in await supervisor.workflow_service.overlap_warnings(args.id):
        sys.stderr.write(f"warning: {warning}\n")
    return 0


async def cmd_stop(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Stop a workflow."""
    workflow = (await supervisor.workflow_service.stop_workflow(args.id)).result
    out(f"stopped {workflow.name!r}")
    return 0


async def cmd_export(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Export a workflow to a file (or stdout)."""
    text = await supervisor.workflow_service.export_workflow(args.id)
    if args.file:
        Path(args.file).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


async def cmd_import(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Import an exported workflow as a new draft; prints its id."""
    workflow = (await supervisor.workflow_service.import_workflow(Path(args.file).read_bytes())).result
    out(str(workflow.id))
    return 0


# -- sync ------------------------------------------------------------------------------------------------


def _once_left(report: OnceReport) -> str:
    """The line `sync --once` prints for commands still waiting, or "" when none are."""
    if not report.left:
        return ""
    noun = "command waits" if report.left == 1 else "commands wait"
    if report.next_due_at is None:
        return f"{report.left} {noun} to be sent"
    return f"{report.left} {noun} for a retry at {time.strftime('%H:%M', time.localtime(report.next_due_at))}"


def say(line: str) -> None:
    """One plain line on stderr, flushed at once: what `sync --forever` says as it runs (journald keeps each)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _role_line(status: SyncStatus, before: str | None) -> tuple[str, str]:
    """This process's role now ("runner", "watching" or "waiting") and the line that says it changed."""
    if status.runner_is_here:
        verb = "took over as the runner" if before == "watching" else "started as the runner"
        return "runner", f"{verb}: this process sends and polls (pid {os.getpid()})"
    if status.runner_host is None:
        return "waiting", "waiting: no process sends for this database; taking over at the next renewal"
    where = "this computer" if status.runner_on_this_computer else status.runner_host
    verb = "handed over" if before == "runner" else "watching"
    return "watching", f"{verb}: the runner is pid {status.runner_pid} on {where}"


def _platform_line(status: SyncStatus, said: Connectivity | None) -> str | None:
    """The line for the runner's new standing with the platform, or None when it is not news.

    `said` is the trouble last said (a rejected token, no answer), or None while all is well.
    """
    state = status.connectivity
    if state is said:
        return None
    if state is Connectivity.AUTH_FAILED:
        return (
            f"the platform rejected the token ({status.detail.rstrip('.')}); waiting for a new one "
            "(run `closeout-cli login`, then `kill -HUP` this process or wait a few seconds)"
        )
    if state is Connectivity.OFFLINE:
        return f"the platform is unreachable ({status.detail.rstrip('.')}); {status.outbox_depth} commands stay queued"
    if state is Connectivity.ONLINE and said is not None:
        return "back online"
    return None


async def _report_forever(supervisor: Supervisor, hangup: asyncio.Event) -> None:
    """For `sync --forever`: one line per change of role or of the platform's answer; a new token on SIGHUP.

    While the token is rejected it also looks for a newly stored one every few seconds (Windows has no SIGHUP).
    """
    role: str | None = None
    held: str | None = None
    trouble: Connectivity | None = None
    for tick in itertools.count():
        if hangup.is_set():
            hangup.clear()
            switched = await supervisor.credential_service.reload_token()
            say("SIGHUP: read the token again; " + ("using the new one" if switched else "it is the one in use"))
        status = await supervisor.connection_service.status()
        now_role, line = _role_line(status, held)
        if supervisor.connection_service.role_known and now_role != role:
            role = now_role
            held = held if now_role == "waiting" else now_role  # "took over" after watching, waiting between
            say(line)
        words = _platform_line(status, trouble) if status.runner_is_here else None
        if words is not None:
            say(words)
            trouble = status.connectivity if status.connectivity is not Connectivity.ONLINE else None
        rejected = status.connectivity is Connectivity.AUTH_FAILED
        if rejected and tick % TOKEN_CHECK_TICKS == 0 and await supervisor.credential_service.reload_token():
            say("a new token was stored; sending again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hangup.wait(), 1.0)


async def cmd_sync(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Sync with the platform: once, until idle, or until stopped."""
    if args.take_over and not args.forever:
        raise CommandUsageError("--take-over goes with --forever: a runner that stops soon would hand the role back")
    if args.once:
        report = await supervisor.sync_once()
        if report.other_runner:
            sys.stderr.write(f"{report.other_runner}; nothing was sent from here\n")
            return EXIT_WORK_LEFT
        if not supervisor.connection_service.has_polled:
            return await _once_unfinished(supervisor)
        left = _once_left(report)
        if left:
            sys.stderr.write(left + "\n")
            return EXIT_WORK_LEFT
    else:
        await supervisor.start()
        receiver = supervisor.credential_service.webhook_url
        if receiver:
            sys.stderr.write(f"receiving webhooks at {receiver}\n")
            sys.stderr.flush()
        if args.take_over:
            await supervisor.connection_service.take_over_runner()
            say("asked the runner to hand over to this process")
        stop, hangup = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        remove_handlers = portable.on_stop_signal(loop, stop.set, hangup_reloads=args.forever)
        remove_reload = portable.on_reload_signal(loop, hangup.set) if args.forever else None
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(supervisor.wait_failure())]
        if args.until_idle:
            waiters.append(asyncio.ensure_future(supervisor.wait_idle(args.idle_seconds)))
            waiters.append(asyncio.ensure_future(supervisor.wait_stuck(args.idle_seconds)))
        else:
            waiters.append(asyncio.ensure_future(_report_forever(supervisor, hangup)))
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        remove_handlers()
        if remove_reload is not None:
            remove_reload()
        if supervisor.failure is not None:
            raise supervisor.failure
        for task in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    status = await supervisor.connection_service.status()
    if status.connectivity is Connectivity.AUTH_FAILED:
        sys.stderr.write(f"the platform rejected the token: {status.detail}\n")
        return EXIT_TOKEN_REJECTED
    if status.connectivity is Connectivity.OFFLINE and status.outbox_depth:
        sys.stderr.write(f"offline with {status.outbox_depth} commands queued: {status.detail}\n")
        return EXIT_OFFLINE
    return 0


async def _once_unfinished(supervisor: Supervisor) -> int:
    """`sync --once` whose poll got no answer: say why in one line, with the documented exit code."""
    status = await supervisor.connection_service.status()
    if status.connectivity is Connectivity.AUTH_FAILED:
        sys.stderr.write(f"the platform rejected the token: {status.detail}\n")
        return EXIT_TOKEN_REJECTED
    queued = f"{status.outbox_depth} commands stay queued" if status.outbox_depth else "nothing is queued"
    why = status.detail or "the poll did not finish (run again with --debug for details)"
    sys.stderr.write(f"could not sync with {supervisor.connection_service.api_url}: {why} ({queued})\n")
    return EXIT_OFFLINE


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
        "detected_at": close.detected_at,
        "closed_by_source": close.closed_by_source.value,
        "closed_by": close.closed_by.id if close.closed_by else None,
        "category": close.category,
        "channel": close.channel,
        "assignee_at_close": assignee.id if assignee else None,
        "assignee_at_close_name": assignee.name if assignee else None,
        "run_id": row.run.id if row.run else None,
        "outcome": row.status.value,
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
    rows = await supervisor.queue_service.queue(args.limit)
    if args.json:
        emit_json([queue_json(row) for row in rows])
        return 0
    names = [row.close.contact.name for row in rows]
    categories = [row.close.category or "-" for row in rows]
    assignees = [row.close.assignee_at_close.name if row.close.assignee_at_close else "unassigned" for row in rows]
    widths = column_width(names, 28), column_width(categories, 24), column_width(assignees, 22)
    for row, name, category, who in zip(rows, names, categories, assignees, strict=True):
        out(
            f"{_iso(row.close.closed_time)}  {fit(name, widths[0])} {row.close.closed_by_source.label:<16} "
            f"{fit(category, widths[1])} {fit(who, widths[2])} {row.status:<10} {row.reason}"
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
    return HistoryFilter(
        since=parse_when(args.since) if args.since else None,
        until=parse_when(args.until) if args.until else None,
        agent_id=args.agent,
        source=args.source,
        workflow_id=args.workflow,
        contact_id=args.contact,
        conversation_id=args.conversation,
        sync_state=args.outcome,
    )


async def cmd_history(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Assignment changes, newest first, filtered; or all of them to CSV."""
    flt = history_filter(args)
    if args.csv:
        written = await supervisor.history_service.export_csv(Path(args.csv), flt)
        sys.stderr.write(f"wrote {written} rows to {args.csv}\n")
        return 0
    page = await supervisor.history_service.history_page(flt, limit=args.limit)
    if args.json:
        emit_json([change_json(c) for c in page.rows])
        return 0
    names = {agent_id: agent.name for agent_id, agent in (await supervisor.team_service.agents()).items()}

    def who(agent_id: int | None) -> str:
        return "nobody" if agent_id is None else names.get(agent_id, f"user {agent_id}")

    total = await supervisor.history_service.history_count(flt)
    contacts = await supervisor.history_service.contact_names(sorted({c.contact_id for c in page.rows}))
    shown = [contacts.get(c.contact_id, f"contact #{c.contact_id}") for c in page.rows]
    width = column_width(shown, 28)
    for c, contact in zip(page.rows, shown, strict=True):
        out(
            f"{_iso(c.at)}  {fit(contact, width)} {fit(who(c.from_agent_id), 18)} → {fit(who(c.to_agent_id), 18)} "
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
    runs = await supervisor.queue_service.runs(args.workflow, args.outcome, limit=args.limit)
    if args.json:
        emit_json([run_json(r) for r in runs])
        return 0
    workflows = {w.id: w.name for w in await supervisor.workflow_service.workflows()}
    contacts = await supervisor.history_service.contact_names(sorted({r.contact_id for r in runs}))
    names = [workflows.get(r.workflow_id, f"workflow #{r.workflow_id}") for r in runs]
    people = [contacts.get(r.contact_id, f"contact #{r.contact_id}") for r in runs]
    widths = column_width(names, 48), column_width(people, 28)
    for r, name, person in zip(runs, names, people, strict=True):
        undone = " (undone)" if r.undone else ""
        out(f"{r.id:>7}  {_iso(r.started_at)}  {fit(name, widths[0])} {fit(person, widths[1])} {r.reason}{undone}")
    return 0


async def cmd_dry_run(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """What a workflow would have done over past closes; writes nothing."""
    workflow = await supervisor.workflow_service.workflow(args.id)
    report = await supervisor.workflow_service.dry_run(workflow, parse_when(args.since))
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
    run = (await supervisor.queue_service.undo(args.run_id)).result
    out(f"queued run {run.id}: {run.reason}; `closeout-cli sync --once` sends it")
    return 0


async def cmd_status(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Mode, database, outbox and the last sync."""
    status = await supervisor.connection_service.status()
    workflows = await supervisor.workflow_service.workflows()
    data: dict[str, Any] = {
        "mode": "demo" if supervisor.is_demo else "workspace",
        "api_url": supervisor.connection_service.api_url,
        "database": supervisor.connection_service.database,
        "outbox_depth": status.outbox_depth,
        "last_sync": status.last_sync,
        "workflows": len(workflows),
        "published": sum(1 for w in workflows if w.state.value == "published"),
        "closes": await supervisor.queue_service.close_count(),
        "token": "set" if secrets.load_token() else "not set",
        "sending": status.other_runner,
        "sending_state": status.runner_state,
        "webhook_keys": [key.label for key in secrets.load_webhook_keys()],
        "runner": None
        if status.runner_host is None
        else {
            "host": status.runner_host,
            "pid": status.runner_pid,
            "renewed_at": status.runner_renewed_at,
            "this_process": status.runner_is_here,
        },
    }
    if args.json:
        emit_json(data)
        return 0
    shown = {**data, "last_sync": _iso(status.last_sync), "runner": _runner_words(status)}
    for key, value in shown.items():
        out(f"{key:<14} {value}")
    return 0


def _runner_words(status: SyncStatus) -> str:
    """Which process sends, as the status bar says it: "vm (pid 4242), renewed 3 s ago", or "none"."""
    if status.runner_host is None:
        return "none"
    ago = (
        ""
        if status.runner_renewed_at is None
        else f", renewed {max(0, time.time() - status.runner_renewed_at):.0f} s ago"
    )
    return f"{status.runner_host} (pid {status.runner_pid}){' — this process' if status.runner_is_here else ''}{ago}"


def read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret typed at a hidden prompt, or the first line of stdin (`--stdin`, or stdin is not a terminal).

    getpass on a pipe warns that the secret may be echoed and fails on an empty one, so a pipe is read as is.
    """
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline()
    try:
        return getpass.getpass(prompt)
    except EOFError:
        return ""


def cmd_login(args: argparse.Namespace) -> int:
    """Store the API token in the keyring (or a private file where there is none), after checking it."""
    raw = read_secret("respond.io API token: ", args.stdin)
    token = Secret(raw)
    if not token:
        raise ConfigError("No token was given.")

    async def check() -> None:
        supervisor = await Supervisor.open(demo=False, token=token)
        try:
            await supervisor.credential_service.test_connection(token)
        finally:
            await supervisor.close()

    if not args.no_check:
        try:
            asyncio.run(check())
        except AuthRejected as exc:
            action = "Copy it again from respond.io (Settings > Integrations > Developer API) and log in again."
            raise AuthRejected(f"The platform rejected the token: {exc.message}", action, status=exc.status) from None
        except Offline as exc:
            raise Offline(exc.message, "Check the API URL and the network, then log in again.") from None
    where = secrets.store_token(token)
    out(f"token {token.hint} stored in {where}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    """Forget the stored token."""
    secrets.clear_token()
    out("token forgotten")
    return 0


# -- databases ------------------------------------------------------------------------------------------


def cmd_db_test(args: argparse.Namespace) -> int:
    """Try a database URL (default: the configured one) and say in words whether Closeout can use it."""
    from app.bootstrap import configured_database_url, test_database_url

    url = args.url or configured_database_url()
    check = test_database_url(url)
    if not check.ok:
        raise ConfigError(check.message, "Correct the URL (or the server), then run `db test` again.")
    out(check.message)
    return 0


def cmd_db_copy(args: argparse.Namespace) -> int:
    """Copy every table from one database (default: the configured one) into another, with progress on stderr."""
    from app.bootstrap import configured_database_url, copy_database

    source = args.source or configured_database_url()
    bar = ProgressBar(sys.stderr)
    result = copy_database(source, args.to, overwrite=args.overwrite, progress=bar.show)
    bar.finish()
    out(f"copied {result.total} rows in {len(result.rows)} tables")
    return 0


class ProgressBar:
    """A one-line progress bar on a terminal, one line per table elsewhere (a log, a pipe).

    Hand-written: twenty lines, where a progress library would be a dependency of the CLI alone.
    """

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._table = ""
        self._drawn = False

    def show(self, table: str, done: int, total: int) -> None:
        """Draw rows `done` of `total`, now copying `table`."""
        filled = self.WIDTH * done // total if total else self.WIDTH
        line = f"{table or 'done':<14} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{total:,} rows"
        if self._tty:
            self._stream.write("\r" + line)
            self._drawn = True
        elif table != self._table:
            self._stream.write(line + "\n")
        self._table = table
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


# -- agents and availability ---------------------------------------------------------------------------


def member_json(member: TeamMember) -> dict[str, Any]:
    """An agent and their availability for `--json`."""
    agent, availability = member.agent, member.availability
    return {
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
        "role": agent.role.value,
        "team_id": agent.team.id if agent.team else None,
        "team": agent.team.name if agent.team else None,
        "presence": availability.presence.value if member.set_by_lead else None,
        "hours": availability.hours.describe() if availability.hours else None,
        "available_now": member.available_now,
    }


def _presence_words(member: TeamMember) -> str:
    if not member.set_by_lead:
        return "not set"
    return member.availability.presence.value


async def cmd_agents(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """The agents in the cache with the availability "only online users" reads."""
    members = await supervisor.team_service.team()
    if args.json:
        emit_json([member_json(m) for m in members])
        return 0
    teams = [m.agent.team.name if m.agent.team else "-" for m in members]
    # As wide as the longest name and team (within reason), so a team is never cut to "Customer Suppo".
    name_width = min(max((len(m.agent.name) for m in members), default=0), 40)
    team_width = min(max((len(team) for team in teams), default=0), 30)
    for m, team in zip(members, teams, strict=True):
        hours = m.availability.hours.describe() if m.availability.hours else "any time"
        now = "available now" if m.available_now else "not available now"
        name = f"{m.agent.name:<{name_width}.{name_width}}"
        out(f"{m.agent.id:>6}  {name}  {team:<{team_width}.{team_width}}  {_presence_words(m):<9} {hours:<24} {now}")
    if not members:
        out("no agents in the cache yet: run `closeout-cli sync --once` to fetch them")
    else:
        out(f"{sum(m.available_now for m in members)} of {len(members)} available now ({WHERE_SET} or here)")
        out(f"working hours are in {supervisor.team_service.hours_zone}")
    return 0


async def cmd_availability_set(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Mark an agent available or away."""
    presence = checked(Presence.parse, args.presence)
    agent = await supervisor.team_service.find_agent(args.agent)
    await supervisor.team_service.set_presence(agent.id, presence)
    out(f"{agent.name} ({agent.id}) is {presence.value}")
    return 0


async def cmd_hours_set(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Give an agent working hours, in the lead's time zone."""
    hours = checked(WorkingHours.parse, args.hours)
    team = supervisor.team_service
    agent = await team.find_agent(args.agent)
    entry = (await team.set_hours(agent.id, hours)).result
    out(f"{agent.name} ({agent.id}) works {hours.describe()} ({team.hours_zone}) and is {entry.presence.value}")
    return 0


async def cmd_hours_clear(supervisor: Supervisor, args: argparse.Namespace) -> int:
    """Drop an agent's working hours: available means available at any time."""
    agent = await supervisor.team_service.find_agent(args.agent)
    entry = (await supervisor.team_service.set_hours(agent.id, None)).result
    out(f"{agent.name} ({agent.id}) has no working hours and is {entry.presence.value}")
    return 0


# -- webhook signing keys -------------------------------------------------------------------------------


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Keep a webhook's signing key under a label (replacing the key that label had)."""
    raw = args.key
    if raw is None:
        raw = read_secret(f"signing key for {args.label}: ", args.stdin)
    key = signing_key(args.label, raw)
    where = secrets.add_webhook_key(key)
    out(f"signing key {key.key.hint} for {key.event} stored in {where} as {key.label!r}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """The stored signing keys: label, event and a hint of each key (its last four characters, or its length)."""
    keys = secrets.load_webhook_keys()
    port = Settings.load().get(WEBHOOK_PORT)
    if args.json:
        emit_json(
            {
                "keys": [{"label": k.label, "event": k.event, "hint": k.key.hint} for k in keys],
                "webhook_port": port or None,
            }
        )
        return 0
    if keys:
        out(f"{'LABEL':<12} {'EVENT':<26} KEY (never shown whole)")
    for k in keys:
        out(f"{k.label:<12} {k.event:<26} {k.key.hint}")
    missing = [label for label in EVENT_LABELS if label not in {k.label for k in keys}]
    if missing:
        out(f"no key yet for: {', '.join(EVENT_LABELS[label] for label in missing)}")
    if port:
        out(f"the receiver listens at http://127.0.0.1:{port}/webhook: register that URL (through your tunnel)")
    else:
        out("the receiver is off: set a webhook port in Settings or run `sync --webhook-port PORT`")
    return 0


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Forget the signing key with this label."""
    if not secrets.remove_webhook_key(args.label.strip()):
        raise ConfigError(f"There is no signing key labelled {args.label.strip()[:60]!r}.", "See `webhook-keys list`.")
    out(f"signing key {args.label.strip()!r} forgotten")
    return 0


# -- registration ----------------------------------------------------------------------------------------


def _history_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="from (7d, 12h, 2026-11-01, ISO time, Unix seconds)")
    parser.add_argument("--until", help="until (same forms)")
    parser.add_argument("--agent", type=record_id, help="changes from or to this agent (user id)")
    parser.add_argument("--source", type=one_of(ChangeSource), help="workflow, undo or platform")
    parser.add_argument("--workflow", type=record_id, help="workflow id")
    parser.add_argument("--contact", type=record_id, help="contact id")
    parser.add_argument("--conversation", type=record_id, help="conversation (close) id")
    parser.add_argument("--outcome", type=one_of(SyncState), help="pending, synced, failed, undone or skipped")


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
    add("publish", "publish a workflow", with_supervisor(cmd_publish)).add_argument("id", type=record_id)
    add("stop", "stop a workflow", with_supervisor(cmd_stop)).add_argument("id", type=record_id)
    parser = add("export", "export a workflow as JSON", with_supervisor(cmd_export))
    parser.add_argument("id", type=record_id)
    parser.add_argument("file", nargs="?", help="where to write (default: stdout)")
    add("import", "import an exported workflow as a draft", with_supervisor(cmd_import)).add_argument("file")

    parser = add("sync", "sync with the platform and run the published workflows", with_supervisor(cmd_sync))
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one poll, then send everything due")
    mode.add_argument("--until-idle", action="store_true", help="also receive webhooks; stop when quiet")
    mode.add_argument(
        "--forever",
        action="store_true",
        help="run as the headless runner until SIGINT or SIGTERM (SIGHUP: reload token)",
    )
    parser.add_argument(
        "--take-over",
        action="store_true",
        help="with --forever: ask the process that sends for this database to hand that role to this one",
    )
    parser.add_argument("--idle-seconds", type=seconds, default=5.0, help="quiet time that ends --until-idle")
    add_setting_flags(parser, (WEBHOOK_PORT,), {WEBHOOK_PORT.key: "receive webhooks on this port (0 picks one)"})
    parser.add_argument(
        "--webhook-secret",
        action="append",
        metavar="[LABEL=]KEY",
        help="a webhook's signing key, besides the stored ones (repeatable: closed=K1 opened=K2 assignee=K3)",
    )
    add_setting_flags(parser, (POLL_SECONDS,))

    parser = add("queue", "closed conversations with their outcome", with_supervisor(cmd_queue))
    parser.add_argument("--limit", type=limit, default=50)
    parser.add_argument("--json", action="store_true")
    parser = add("history", "assignment history", with_supervisor(cmd_history))
    _history_options(parser)
    parser.add_argument("--limit", type=limit, default=200)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", metavar="FILE", help="export every matching row to FILE")
    parser = add("runs", "the run log", with_supervisor(cmd_runs))
    parser.add_argument("--workflow", type=record_id)
    parser.add_argument("--outcome", type=one_of(RunOutcome), help="done, skipped, failed or waiting")
    parser.add_argument("--limit", type=limit, default=50)
    parser.add_argument("--json", action="store_true")
    parser = add("dry-run", "what a workflow would have done over past closes", with_supervisor(cmd_dry_run))
    parser.add_argument("id", type=record_id)
    parser.add_argument("--since", default="7d", help="how far back (default 7d)")
    parser.add_argument("--json", action="store_true")
    parser = add("undo", "undo a run (reassign the previous agent)", with_supervisor(cmd_undo))
    parser.add_argument("run_id", type=record_id)
    parser = add("status", "mode, database, outbox and last sync", with_supervisor(cmd_status))
    parser.add_argument("--json", action="store_true")
    parser = add("login", "store the respond.io API token", cmd_login)
    parser.add_argument("--stdin", action="store_true", help="read the token from standard input")
    parser.add_argument("--no-check", action="store_true", help="store it without asking the platform")
    add("logout", "forget the stored API token", cmd_logout)

    parser = add("agents", "the agents with the availability the lead keeps", with_supervisor(cmd_agents))
    parser.add_argument("--json", action="store_true")
    agent_help = "the agent's id, email or name (see `agents`)"

    def group(name: str, help_text: str, description: str) -> Callable[[str, str, Callable[..., int]], Any]:
        """A command with actions (`hours set`, `hours clear`); returns a function that adds one action."""
        parent = subparsers.add_parser(name, help=help_text, description=description)
        actions = parent.add_subparsers(dest=f"{name}_action", metavar="ACTION", required=True)

        def action(action_name: str, action_help: str, run: Callable[..., int]) -> argparse.ArgumentParser:
            parser: argparse.ArgumentParser = actions.add_parser(action_name, help=action_help, description=action_help)
            parser.set_defaults(run=run)
            return parser

        return action

    availability = group(
        "availability",
        "mark an agent available or away",
        '"Only online users" assigns to agents marked available (respond.io reports no presence).',
    )
    parser = availability("set", "set an agent available or away", with_supervisor(cmd_availability_set))
    parser.add_argument("agent", help=agent_help)
    parser.add_argument("presence", help="available or away")
    hours = group(
        "hours",
        "an agent's working hours",
        "Working hours narrow 'available' to weekdays and times, in the time zone Settings name.",
    )
    parser = hours("set", 'set working hours, e.g. "Mon-Fri 09:00-17:00"', with_supervisor(cmd_hours_set))
    parser.add_argument("agent", help=agent_help)
    parser.add_argument("hours", help='weekdays and times, e.g. "Mon-Fri 09:00-17:00" or "Sat 22:00-06:00"')
    parser = hours("clear", "drop the working hours (available at any time)", with_supervisor(cmd_hours_clear))
    parser.add_argument("agent", help=agent_help)

    database = group(
        "db",
        "the database: try a URL, copy between databases",
        "Closeout keeps its data in a SQLite file or in a shared PostgreSQL (postgresql+psycopg://user:pw@host/db).",
    )
    parser = database("test", "say in words whether Closeout can use a database URL", cmd_db_test)
    parser.add_argument("--url", type=from_setting(DB_URL), help="the URL to try (default: the configured database)")
    parser = database(
        "copy",
        "copy every table into another database, e.g. this computer's SQLite into a shared PostgreSQL",
        cmd_db_copy,
    )
    parser.add_argument(
        "--to", required=True, type=from_setting(DB_URL), metavar="URL", help="the database to copy into"
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=from_setting(DB_URL),
        metavar="URL",
        help="the database to copy (default: the configured one)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what the target holds (without it, a non-empty target is refused)",
    )

    keys = group(
        "webhook-keys",
        "the signing keys of respond.io's webhooks",
        "Each respond.io webhook (one event, one URL) shows its own signing key; Closeout holds them all.",
    )
    parser = keys("add", "store a signing key under a label", cmd_keys_add)
    parser.add_argument("--label", required=True, help="the event it belongs to: closed, opened or assignee")
    parser.add_argument(
        "key", nargs="?", help="the key (default: asked for, or read from stdin); as an argument it shows in `ps`"
    )
    parser.add_argument("--stdin", action="store_true", help="read the key from standard input")
    parser = keys("list", "the stored keys (never the keys themselves)", cmd_keys_list)
    parser.add_argument("--json", action="store_true")
    keys("remove", "forget the key with this label", cmd_keys_remove).add_argument("label")
