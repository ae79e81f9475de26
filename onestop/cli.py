"""The `onestop` administration command."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import asdict
from datetime import date

import click

from onestop import i18n
from onestop.errors import OnestopError
from onestop.validation import parse_local_date


def _language() -> str:
    lang = os.environ.get("ONESTOP_LANG", i18n.DEFAULT_LANGUAGE)
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def _session_factory():
    from onestop.db import make_engine, make_session_factory

    return make_session_factory(make_engine())


def domain_command(func):
    """Run the command in one transaction; a domain refusal prints its message and exits 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from onestop.db import session_scope
        from onestop.errors import ValidationError

        try:
            # Bytes that are not UTF-8 reach us as lone surrogates (PEP 383), and PostgreSQL
            # refuses NUL even in a look-up: refuse both here, before the database driver does.
            for name, value in kwargs.items():
                for item in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(item, str) and any("\ud800" <= ch <= "\udfff" for ch in item):
                        raise ValidationError("invalid_value", field=name, detail="not UTF-8 text")
                    if isinstance(item, str) and "\x00" in item:
                        raise ValidationError("invalid_value", field=name, detail="NUL (\\0)")
            with session_scope(_session_factory()) as session:
                return func(session, *args, **kwargs)
        except OnestopError as exc:
            click.echo(f"{exc.code}: {exc.message(_language())}", err=True)
            sys.exit(2)

    return wrapper


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_local_date(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)", param_hint=name
        ) from None


@click.group()
@click.version_option(package_name="onestop")
def main() -> None:
    """onestop: one-stop desk case management (Bộ phận Một cửa)."""


# --- db ---------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """The database named by ONESTOP_DATABASE_URL (default: a SQLite file in ./instance)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the newest schema."""
    from onestop.db import database_url
    from onestop.migrate import current_revision, upgrade

    url = database_url()
    upgrade(url)
    click.echo(f"database at revision {current_revision(url)}")


# --- units ------------------------------------------------------------------------------------

@main.group()
def units() -> None:
    """The organisation tree."""


@units.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", default="department", show_default=True)
@click.option("--parent", "parent_code", default=None, help="code of the parent unit")
@click.option("--effective-from", default=None, help="YYYY-MM-DD (historical districts)")
@click.option("--effective-to", default=None, help="YYYY-MM-DD (historical districts)")
@domain_command
def units_add(session, code, name, kind, parent_code, effective_from, effective_to) -> None:
    """Add a unit CODE named NAME."""
    from onestop.admin import create_unit

    unit = create_unit(
        session, code, name, kind=kind, parent_code=parent_code,
        effective_from=_parse_date(effective_from, "--effective-from"),
        effective_to=_parse_date(effective_to, "--effective-to"),
    )
    click.echo(f"unit {unit.code} added")


@units.command("list")
@domain_command
def units_list(session) -> None:
    """Print the organisation tree."""
    from sqlalchemy import select

    from onestop.models import Unit

    all_units = session.scalars(select(Unit).order_by(Unit.code)).all()
    children: dict[int | None, list[Unit]] = {}
    for unit in all_units:
        children.setdefault(unit.parent_id, []).append(unit)

    def show(parent_id: int | None, depth: int) -> None:
        for unit in children.get(parent_id, []):
            click.echo(f"{'  ' * depth}{unit.code}  {unit.name}  [{unit.kind}]")
            show(unit.id, depth + 1)

    show(None, 0)


# --- officers ---------------------------------------------------------------------------------

@main.group()
def officers() -> None:
    """Officers and their roles."""


@officers.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True)
@click.option("--unit", "unit_code", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              help="desk, unit_head, chair, admin, inspector, or a process role")
@click.option("--email", default=None)
@click.option("--acting", is_flag=True, help="acting holder of the role (e.g. acting unit head)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@domain_command
def officers_add(session, username, full_name, unit_code, roles, email, acting, password_stdin) -> None:
    """Add officer USERNAME with roles in a unit."""
    from onestop.admin import create_officer

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    officer = create_officer(
        session, username, full_name, unit_code=unit_code, roles=roles, password=password,
        email=email, acting=acting,
    )
    click.echo(f"officer {officer.username} added ({', '.join(roles)} @ {unit_code})")


# --- procedures -------------------------------------------------------------------------------

@main.group()
def procedures() -> None:
    """The procedure catalogue."""


@procedures.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@domain_command
def procedures_load(session, path) -> None:
    """Load a catalogue CSV, all or nothing."""
    from onestop.catalogue import load_catalogue_file

    report = load_catalogue_file(session, path)
    click.echo(
        f"{len(report.created)} created, {len(report.new_versions)} new versions, "
        f"{len(report.unchanged)} unchanged"
    )


# --- calendar ---------------------------------------------------------------------------------

@main.group()
def calendar() -> None:
    """The working calendar: holidays, days off in lieu, exchanged working days."""


@calendar.command("explain")
@click.option("--from", "start", required=True, help="YYYY-MM-DD or DD/MM/YYYY")
@click.option("--to", "end", required=True, help="YYYY-MM-DD or DD/MM/YYYY")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@domain_command
def calendar_explain(session, start, end, fmt) -> None:
    """Each day of a period: working or not, and why."""
    from datetime import timedelta

    from onestop.calendar_store import work_calendar

    first, last = _parse_date(start, "--from"), _parse_date(end, "--to")
    assert first and last
    if last < first:
        raise click.BadParameter("--to is before --from")
    if (last - first).days > 3660:
        raise click.BadParameter("at most ten years at a time")
    cal = work_calendar(session)
    days = [cal.describe_day(first + timedelta(n)) for n in range((last - first).days + 1)]
    if fmt == "json":
        click.echo(json.dumps([asdict(d) for d in days], ensure_ascii=False, indent=1, default=str))
        return
    for info in days:
        mark = "làm việc" if info.is_working else "nghỉ    "
        click.echo(f"{info.day:%a %d/%m/%Y}  {mark}  {info.reason}")
    working = sum(1 for d in days if d.is_working)
    click.echo(f"{working} working day(s) of {len(days)}")


def _add_exception(session, day: str, reference: str, kind: str) -> None:
    from onestop.calendar_store import add_calendar_exception
    from onestop.deadlines import reproject_open_cases

    parsed = _parse_date(day, "DAY")
    assert parsed
    add_calendar_exception(session, parsed, kind, reference)
    label = "day off" if kind == "day_off" else "working day"
    changed = reproject_open_cases(session, f"Calendar change: {label} {parsed:%d/%m/%Y} ({reference})")
    click.echo(
        f"{label} {parsed:%d/%m/%Y} recorded ({reference}); "
        f"{changed} open case(s) got a new due instant"
    )


@calendar.command("add-day-off")
@click.argument("day")
@click.option("--reference", required=True, help="the announcement, e.g. Thông báo 1234/TB-BNV")
@domain_command
def calendar_add_day_off(session, day, reference) -> None:
    """Record an announced day off."""
    _add_exception(session, day, reference, "day_off")


@calendar.command("add-working-day")
@click.argument("day")
@click.option("--reference", required=True, help="the announcement")
@domain_command
def calendar_add_working_day(session, day, reference) -> None:
    """Record an announced working day (e.g. a Saturday worked in exchange)."""
    _add_exception(session, day, reference, "working_day")


@calendar.command("remove")
@click.argument("day")
@click.option("--reason", required=True, help="why the day off or working day is removed")
@domain_command
def calendar_remove(session, day, reason) -> None:
    """Remove a day off or working day recorded in error; re-projects open cases."""
    from onestop.calendar_store import calendar_change_reason, remove_calendar_exception
    from onestop.deadlines import reproject_open_cases

    parsed = _parse_date(day, "DAY")
    assert parsed
    row = remove_calendar_exception(session, parsed, reason)
    changed = reproject_open_cases(
        session, calendar_change_reason(parsed, row.kind, reason.strip(), removed=True)
    )
    label = "day off" if row.kind == "day_off" else "working day"
    click.echo(f"{label} {parsed:%d/%m/%Y} removed; {changed} open case(s) got a new due instant")


# --- audit -----------------------------------------------------------------------------------

@main.group()
def audit() -> None:
    """Tamper evidence of the case history."""


@audit.command("verify")
@click.option("--unit", "unit_code", default=None, help="only this unit and the units below it")
@domain_command
def audit_verify(session, unit_code) -> None:
    """Re-check every history chain; name each broken link (exit 1 if any)."""
    from onestop.audit import verify_chains

    checked, broken = verify_chains(session, unit_code)
    for link in broken:
        click.echo(f"BROKEN {link}")
    click.echo(f"{checked} event(s) checked, {len(broken)} broken link(s)")
    if broken:
        sys.exit(1)


# --- backup and restore ----------------------------------------------------------------------

@main.command("backup")
@click.option("--output", "output", default=None, type=click.Path(dir_okay=False),
              help="backup file (default: onestop-<backend>-<UTC time>.dump/.sqlite3 here)")
def backup_command(output: str | None) -> None:
    """Back up the whole database, with a manifest (FILE.manifest.json) for restore to check."""
    from pathlib import Path

    from onestop.backup import backup, default_backup_name, manifest_path_for
    from onestop.db import database_url

    url = database_url()
    try:
        result = backup(url, Path(output or default_backup_name(url)))
    except OnestopError as exc:
        click.echo(f"{exc.code}: {exc.message(_language())}", err=True)
        sys.exit(2)
    manifest = result.manifest
    click.echo(
        f"backup written to {result.path} ({manifest.backend}, revision {manifest.revision}, "
        f"{len(manifest.row_counts)} tables, {sum(manifest.row_counts.values())} rows, "
        f"{manifest.events_checked} history events); manifest {manifest_path_for(result.path)}"
    )
    if manifest.broken_links:
        click.echo(
            f"warning: the history had {manifest.broken_links} broken link(s) at backup time; "
            "run `onestop audit verify`", err=True,
        )


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="replace the current database without asking")
def restore_command(path: str, yes: bool) -> None:
    """Replace the database with the backup FILE, then verify it (row counts, audit verify).

    Stop the web app and the flows first. Exit 0 when verified, 1 when the verification found a
    difference, 2 when the restore was refused (nothing changed).
    """
    from pathlib import Path

    from onestop.backup import check_backup, describe_report, restore
    from onestop.db import database_url

    url = database_url()
    try:
        manifest = check_backup(Path(path))
        if not yes:
            click.confirm(
                f"Replace the whole database ({url.split('@')[-1]}) with the backup of "
                f"{manifest.created_at} ({sum(manifest.row_counts.values())} rows)?",
                abort=True,
            )
        report = restore(url, Path(path))
    except OnestopError as exc:
        click.echo(f"{exc.code}: {exc.message(_language())}", err=True)
        sys.exit(2)
    for line in describe_report(report):
        click.echo(line)
    rows = sum(report.row_counts.values())
    if not report.ok:
        click.echo(f"restored, but the verification FAILED ({rows} rows)", err=True)
        sys.exit(1)
    click.echo(
        f"restored and verified: {len(report.row_counts)} tables, {rows} rows as in the manifest, "
        f"{report.events_checked} history events checked, 0 broken links"
    )


# --- API tokens and the case book ------------------------------------------------------------

@main.group()
def tokens() -> None:
    """Bearer tokens of the REST API (stored hashed; shown once)."""


@tokens.command("create")
@click.argument("username")
@click.option("--label", default=None, help="what the token is for, e.g. the provincial portal")
@domain_command
def tokens_create(session, username, label) -> None:
    """Create a token for officer USERNAME and print it (it cannot be shown again)."""
    from onestop.tokens import create_token

    row, token = create_token(session, username, label)
    click.echo(token)
    click.echo(f"token {row.prefix}… created for {username}; keep it secret, it is shown once", err=True)


@tokens.command("revoke")
@click.argument("prefix")
@domain_command
def tokens_revoke(session, prefix) -> None:
    """Revoke the token that starts with PREFIX: it stops working at once."""
    from onestop.tokens import revoke_token

    row = revoke_token(session, prefix)
    click.echo(f"token {row.prefix}… of {row.officer.username} revoked")


@tokens.command("list")
@click.argument("username", required=False)
@domain_command
def tokens_list(session, username) -> None:
    """List tokens (prefix, officer, created, last used, revoked), never the tokens themselves."""
    from onestop.lifecycle import find_officer
    from onestop.tokens import list_tokens
    from onestop.validation import clean_text

    name = clean_text(username, "username", max_length=64)
    officer = find_officer(session, name) if name else None
    for row in list_tokens(session, officer):
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
        click.echo(
            f"{row.prefix}…  {row.officer.username}  created {row.created_at:%Y-%m-%d %H:%M}  "
            f"{used}  {state}  {row.label or ''}".rstrip()
        )


@main.command("import-book")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--unit", "unit_code", required=True, help="the unit whose book it is")
@click.option("--officer", "username", default=None,
              help="desk officer who takes the open cases (rows without a return date)")
@domain_command
def import_book(session, path, unit_code, username) -> None:
    """Import a case book (form 07, .xlsx or UTF-8 CSV), all or nothing."""
    from pathlib import Path

    from onestop.casebook import import_case_book
    from onestop.lifecycle import find_officer
    from onestop.validation import clean_text

    name = clean_text(username, "officer", max_length=64)
    officer = find_officer(session, name) if name else None
    file = Path(path)
    report = import_case_book(
        session, file.read_bytes(), unit_code=unit_code, officer=officer, filename=file.name
    )
    click.echo(i18n.translate(
        "book_imported", _language(), total=report.total, finished=report.finished, open=report.open
    ))


# --- reports and flows ------------------------------------------------------------------------

@main.group("report")
def report_group() -> None:
    """On-time figures and the official statistics (RULES.md section 5)."""


def _on_time_table(figures: dict) -> str:
    header = ("unit", "received", "carried", "resolved", "early", "on time", "late", "in prog.",
              "overdue", "withdr.", "stopped", "refused", "on-time %", "766 score")
    lines = [{"unit": {"code": figures["unit"]["code"]}, **figures}]
    lines += figures.get("subunits", [])
    rows = [header]
    for line in lines:
        rate = line["on_time_rate"]
        rows.append((
            line["unit"]["code"], line["received"]["total"], line["received"]["carried_over"],
            line["resolved"]["total"], line["resolved"]["early"], line["resolved"]["on_time"],
            line["resolved"]["late"], line["in_progress"]["total"], line["in_progress"]["overdue"],
            line["withdrawn"], line["stopped"], line["refused"],
            "-" if rate is None else f"{100 * rate:.1f}",
            "-" if line["score_766"] is None else f"{line['score_766']:.2f}",
        ))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    out = [
        "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    out.insert(1, "-" * len(out[0]))
    low, high = figures["on_time_rate_interval"]
    out.append(
        f"{figures['from']} to {figures['to']}: on-time rate 95% interval {100 * low:.1f}–{100 * high:.1f}%; "
        f"average processing {figures['average_processing_days']} working day(s); "
        f"satisfaction {figures['satisfaction']['rate']} (score {figures['satisfaction']['score']})"
    )
    return "\n".join(out)


@report_group.command("on-time")
@click.option("--unit", "unit_code", required=True, help="unit code; its sub-units are included")
@click.option("--from", "start", required=True, help="YYYY-MM-DD or DD/MM/YYYY")
@click.option("--to", "end", required=True, help="YYYY-MM-DD or DD/MM/YYYY")
@click.option("--format", "fmt", type=click.Choice(["json", "xlsx", "table"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="write to this file instead of standard output")
@click.option("--own-only", is_flag=True, help="only the unit's own cases, not those of units below it")
@click.option("--no-refresh", is_flag=True, help="read the figures as the metrics flow last left them")
@domain_command
def report_on_time(session, unit_code, start, end, fmt, output, own_only, no_refresh) -> None:
    """On-time figures of a unit over a period (local dates, both included)."""
    from onestop.metrics import on_time_report, refresh_metrics
    from onestop.reports import on_time_workbook

    first, last = _parse_date(start, "--from"), _parse_date(end, "--to")
    assert first and last
    if last < first:
        raise click.BadParameter("--to is before --from")
    if not no_refresh:
        refresh_metrics(session)
    if fmt == "xlsx":
        content = on_time_workbook(session, unit_code, first, last)
        if output is None and sys.stdout.isatty():
            raise click.UsageError("an Excel file is binary: give --output FILE")
        if output is None:
            sys.stdout.buffer.write(content)
        else:
            with open(output, "wb") as handle:
                handle.write(content)
            click.echo(f"written to {output}", err=True)
        return
    figures = on_time_report(session, unit_code, first, last, include_subunits=not own_only)
    text = json.dumps(figures, ensure_ascii=False, indent=1) if fmt == "json" else _on_time_table(figures)
    if output is None:
        click.echo(text)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(f"written to {output}", err=True)


def _flow_names() -> list[str]:
    from flows import FLOWS

    return sorted(FLOWS)


@main.group("flows")
def flows_group() -> None:
    """Scheduled jobs (Prefect 3 flows): run one now, or serve them all on their schedules."""


@flows_group.command("run")
@click.argument("name", type=click.Choice(_flow_names()))
@click.option("--date", "day", default=None, help="the day to run for (YYYY-MM-DD or DD/MM/YYYY)")
def flows_run(name: str, day: str | None) -> None:
    """Run flow NAME once now, in this process: no Prefect server needed."""
    from flows.common import run_once

    parsed = _parse_date(day, "--date")
    try:
        summary = run_once(name, day=parsed.isoformat() if parsed else None)
    except OnestopError as exc:
        click.echo(f"{exc.code}: {exc.message(_language())}", err=True)
        sys.exit(2)
    click.echo(json.dumps(summary, ensure_ascii=False, default=str))


@flows_group.command("serve")
@click.option("--limit", type=click.IntRange(1, 64), default=None, help="at most this many runs at once")
def flows_serve(limit: int | None) -> None:
    """Register every flow as a deployment with its cron schedules (Asia/Ho_Chi_Minh) on the
    Prefect server named by PREFECT_API_URL, and run the scheduled runs until stopped."""
    from flows.common import serve_all

    try:
        serve_all(limit)
    except RuntimeError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


# --- serve and seed ---------------------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app under gunicorn (WSGI entry point onestop.wsgi:app)."""
    args = [
        "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
        "--access-logfile", "-", "onestop.wsgi:app",
    ]
    os.execvp(sys.executable, [sys.executable, "-m", *args])


@main.command()
@click.option("--demo", is_flag=True, help="a province, communes, officers and months of cases")
@click.option("--synthetic", is_flag=True,
              help="a synthetic province at scale, bulk-loaded (see --cases)")
@click.option("--cases", type=click.IntRange(0), default=None,
              help="--synthetic: how many cases (e.g. 1000000)")
@click.option("--communes", type=click.IntRange(1, 5000), default=100, show_default=True,
              help="--synthetic: how many communes")
@click.option("--seed", "random_seed", default=2026, show_default=True, type=int)
@click.option("--months", default=None, type=click.IntRange(1, 36),
              help="the period that ends now (default: 4 for --demo, 12 for --synthetic)")
@click.option("--as-of", "as_of", default=None,
              help="--synthetic: end of the period, ISO instant (default: now); with --seed, "
                   "the same rows every time")
@click.option("--row-checks", is_flag=True,
              help="--synthetic on PostgreSQL: keep per-row triggers firing (slower)")
@click.option("--if-empty", is_flag=True, help="do nothing if the database already has units")
@domain_command
def seed(session, demo: bool, synthetic: bool, cases: int | None, communes: int,
         random_seed: int, months: int | None, as_of: str | None, row_checks: bool,
         if_empty: bool) -> None:
    """Fill an empty database with demo data (documented demo log-ins in the README) or with
    a synthetic province (--synthetic --cases N), deterministic for a given --seed."""
    from sqlalchemy import select

    from onestop.models import Unit

    if demo == synthetic:
        raise click.UsageError("say what to seed: --demo or --synthetic")
    if synthetic and cases is None:
        raise click.UsageError("--synthetic needs --cases N")
    if if_empty and session.scalar(select(Unit.id).limit(1)) is not None:
        click.echo("the database already has data; nothing seeded")
        return
    if demo:
        from onestop.demo import seed_demo
        from onestop.metrics import refresh_metrics

        click.echo(seed_demo(session, seed=random_seed, months=months or 4))
        # The dashboards read the metrics flow's snapshots: have them from the first page view.
        refresh_metrics(session, full=True)
        return
    from datetime import datetime

    from onestop.synthetic import seed_synthetic

    now = None
    if as_of is not None:
        try:
            now = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(f"{as_of!r} is not an ISO instant", param_hint="--as-of") from None
        if now.tzinfo is None:
            from zoneinfo import ZoneInfo

            now = now.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    summary = seed_synthetic(
        session, cases=cases, communes=communes, months=months or 12, seed=random_seed,
        now=now, row_checks=row_checks,
        progress=lambda n: click.echo(f"{n} cases written", err=True),
    )
    click.echo(summary)


if __name__ == "__main__":
    main()
