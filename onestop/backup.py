"""Backup and restore of the whole database, with a verification step after restore.

A backup is two files: the data (`pg_dump --format=custom` on PostgreSQL, a SQLite database file
made with SQLite's online backup API) and a JSON manifest beside it (`FILE.manifest.json`) with
the backend, the schema, the migration revision, the SHA-256 of the data file, and the row count
of every table, all taken from the same snapshot as the data.

Restore refuses a file whose checksum or manifest does not match, then replaces the database:

* PostgreSQL: in ONE transaction (`psql --single-transaction`), drop the application's schema
  with everything in it and let `pg_restore --clean --if-exists` recreate it. Dropping the schema
  first is the choice, for two reasons: the history triggers refuse DELETE and TRUNCATE of
  `case_events` (DROP is not refused, but a row-by-row clean-up would be), and objects created
  after the backup (a newer migration's table with a foreign key to `cases`) would otherwise block
  `--clean`. Because the drop and the restore share one transaction, a failed restore leaves the
  old database exactly as it was.
* SQLite: the backup API copies the backup's pages over the target in one step, which replaces
  the file's content wholesale (no DELETE runs, so the triggers do not fire) and is atomic.

Afterwards `verify_restored` re-counts every table against the manifest and re-checks every
history chain (`audit verify`). Stop the web app and flows before a restore: the schema is
replaced under them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from onestop.db import make_engine
from onestop.errors import OnestopError

MANIFEST_SUFFIX = ".manifest.json"
FORMAT = "onestop-backup/1"


class BackupError(OnestopError):
    """A backup or restore that cannot go ahead; nothing was changed."""

    http_status = 400


@dataclass
class Manifest:
    backend: str
    schema: str | None
    revision: str | None
    sha256: str
    row_counts: dict[str, int]
    events_checked: int
    broken_links: int
    created_at: str
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True, ensure_ascii=False)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        manifest_path = manifest_path_for(path)
        if not manifest_path.exists():
            raise BackupError("backup_manifest_missing", path=str(manifest_path))
        try:
            data = json.loads(manifest_path.read_text("utf-8"))
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(**data)
        except (ValueError, TypeError, OSError) as exc:
            raise BackupError("backup_manifest_invalid", path=str(manifest_path), detail=str(exc)) from exc


@dataclass
class BackupResult:
    path: Path
    manifest: Manifest


@dataclass
class RestoreReport:
    """What the verification after a restore found; `ok` when nothing differs."""

    row_counts: dict[str, int]
    mismatched_tables: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    events_checked: int = 0
    broken_links: list[str] = field(default_factory=list)
    revision: str | None = None
    expected_revision: str | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.mismatched_tables and not self.broken_links
            and self.revision == self.expected_revision
        )


def manifest_path_for(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def default_backup_name(url: str | None = None, now: datetime | None = None) -> str:
    from onestop.db import database_url

    backend = _backend(url or database_url())
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"onestop-{backend}-{stamp}.{'dump' if backend == 'postgresql' else 'sqlite3'}"


# --- backup -----------------------------------------------------------------------------------

def backup(url: str, output: Path) -> BackupResult:
    """Write a backup of the database at `url` to `output` and its manifest beside it."""
    output = Path(output)
    if output.exists() and output.is_dir():
        raise BackupError("backup_output_is_folder", path=str(output))
    # Write beside the target and rename at the end: a crash never leaves a half file under the
    # final name, and an older backup of the same name survives a failed run.
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".partial-", dir=output.parent)
    except OSError as exc:
        raise BackupError("backup_output_unwritable", path=str(output), detail=exc.strerror or str(exc)) from exc
    os.close(handle)
    partial = Path(temporary)
    try:
        if _backend(url) == "postgresql":
            manifest = _backup_postgres(url, partial)
        else:
            manifest = _backup_sqlite(url, partial)
        manifest.sha256 = _sha256(partial)
        partial.replace(output)
        manifest_path_for(output).write_text(manifest.to_json() + "\n", "utf-8")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError("backup_output_unwritable", path=str(output), detail=exc.strerror or str(exc)) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(output, manifest)


def _backup_postgres(url: str, output: Path) -> Manifest:
    pg_dump = _tool("pg_dump")
    engine = make_engine(url)
    try:
        # One REPEATABLE READ transaction exports its snapshot to pg_dump, so the row counts and
        # the audit result in the manifest describe exactly the data in the dump, even while the
        # app keeps writing.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
                schema = connection.scalar(sa.text("SELECT current_schema()"))
                if schema is None:
                    raise BackupError("backup_schema_missing", schema=_search_path_schema(connection))
                manifest = _describe(connection)
                manifest.schema = schema
                uri, env = _libpq(url)
                _run([
                    pg_dump, "--format=custom", f"--schema={schema}", f"--snapshot={snapshot}",
                    "--no-owner", "--no-privileges", f"--file={output}", f"--dbname={uri}",
                ], env, "pg_dump")
    finally:
        engine.dispose()
    return manifest


def _backup_sqlite(url: str, output: Path) -> Manifest:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError("backup_database_missing", path=str(source_path))
    # `output` is the empty 0600 file made by mkstemp: SQLite takes it as a new database and the
    # backup, which holds personal data, stays readable by its owner only.
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(output)
    try:
        # The online backup API copies a consistent snapshot while other connections keep
        # working; a writer in the middle makes it restart, never copy half a transaction.
        source.backup(target)
        # A self-contained file: no -wal/-shm beside it, and opening it read-only never writes.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()
    # A plain engine, not make_engine: its WAL pragma would change the file just written.
    engine = sa.create_engine(f"sqlite:///{output}")
    try:
        with engine.connect() as connection:
            manifest = _describe(connection)
    finally:
        engine.dispose()
    return manifest


def _describe(connection: sa.Connection) -> Manifest:
    """Row counts, migration revision and audit result of what `connection` sees."""
    from onestop.audit import verify_chains

    counts = row_counts(connection)
    revision = None
    if "alembic_version" in counts:
        revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    checked, broken = 0, []
    if "case_events" in counts:
        with Session(bind=connection) as session:
            checked, broken = verify_chains(session)
    return Manifest(
        backend=connection.dialect.name, schema=None, revision=revision, sha256="",
        row_counts=counts, events_checked=checked, broken_links=len(broken),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def row_counts(connection: sa.Connection) -> dict[str, int]:
    """Every table of the database (the app's schema on PostgreSQL) and its number of rows."""
    names = sorted(sa.inspect(connection).get_table_names())
    preparer = connection.dialect.identifier_preparer
    return {
        name: int(connection.scalar(sa.text(f"SELECT count(*) FROM {preparer.quote(name)}")) or 0)
        for name in names
    }


# --- restore ----------------------------------------------------------------------------------

def check_backup(path: Path) -> Manifest:
    """The manifest of the backup at `path`, after checking the file is the one it describes."""
    path = Path(path)
    if not path.is_file():
        raise BackupError("backup_file_missing", path=str(path))
    manifest = Manifest.read(path)
    if _sha256(path) != manifest.sha256:
        raise BackupError("backup_checksum_mismatch", path=str(path))
    return manifest


def restore(url: str, path: Path) -> RestoreReport:
    """Replace the database at `url` with the backup at `path`, then verify it.

    Refuses (BackupError, nothing changed) a backup without a matching manifest, of the other
    backend, or of another PostgreSQL schema. Returns the verification report.
    """
    path = Path(path)
    manifest = check_backup(path)
    backend = _backend(url)
    if manifest.backend != backend:
        raise BackupError("backup_backend_mismatch", found=manifest.backend, expected=backend)
    if backend == "postgresql":
        _restore_postgres(url, path, manifest)
    else:
        _restore_sqlite(url, path)
    return verify_restored(url, manifest)


def _restore_postgres(url: str, path: Path, manifest: Manifest) -> None:
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            schema = _search_path_schema(connection)
    finally:
        engine.dispose()
    if schema != manifest.schema:
        raise BackupError("backup_schema_mismatch", found=manifest.schema, expected=schema)
    uri, env = _libpq(url)
    quoted = '"' + schema.replace('"', '""') + '"'
    script = subprocess.Popen(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file=-",
         str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    assert script.stdout is not None
    try:
        # A lock timeout turns "the app still holds the tables" into a clear error, not a hang.
        loader = subprocess.run(
            [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
             "--command=SET lock_timeout = '15s'",
             f"--command=DROP SCHEMA IF EXISTS {quoted} CASCADE",
             "--file=-", f"--dbname={uri}"],
            stdin=script.stdout, capture_output=True, env=env, check=False,
        )
    finally:
        script.stdout.close()
        reader_error = script.stderr.read() if script.stderr else b""
        script.wait()
    if script.returncode != 0:
        raise BackupError("backup_tool_failed", tool="pg_restore", detail=_tail(reader_error))
    if loader.returncode != 0:
        raise BackupError("backup_tool_failed", tool="psql", detail=_tail(loader.stderr))


def _restore_sqlite(url: str, path: Path) -> None:
    target_path = _sqlite_path(url)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = source.execute("PRAGMA integrity_check").fetchone()
        if not result or result[0] != "ok":
            raise BackupError("backup_file_corrupt", path=str(path), detail=str(result))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            # One step (pages=-1): the target's old pages are replaced inside one transaction.
            source.backup(target)
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError("backup_file_corrupt", path=str(path), detail=str(exc)) from exc
    finally:
        source.close()


def verify_restored(url: str, manifest: Manifest) -> RestoreReport:
    """Compare the database at `url` with the manifest: row counts, revision, history chains."""
    from onestop.audit import verify_chains

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            counts = row_counts(connection)
            revision = None
            if "alembic_version" in counts:
                revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
            checked, broken = 0, []
            if "case_events" in counts:
                with Session(bind=connection) as session:
                    checked, broken = verify_chains(session)
    finally:
        engine.dispose()
    expected = manifest.row_counts
    mismatched = {
        name: (expected.get(name), counts.get(name))
        for name in sorted(set(expected) | set(counts))
        if expected.get(name) != counts.get(name)
    }
    return RestoreReport(
        row_counts=counts, mismatched_tables=mismatched, events_checked=checked,
        broken_links=[str(link) for link in broken], revision=revision,
        expected_revision=manifest.revision,
    )


# --- helpers ----------------------------------------------------------------------------------

def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("backup_sqlite_needs_file", url=url)
    return Path(database).resolve()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError("backup_tool_missing", tool=name)
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the PostgreSQL client tools, with the password moved to PGPASSWORD so it
    never shows in the process list."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    bare = parsed.set(drivername="postgresql", password=None)
    return bare.render_as_string(hide_password=False), env


def _search_path_schema(connection: sa.Connection) -> str:
    """The schema the connection works in, even when it does not exist yet."""
    current = connection.scalar(sa.text("SELECT current_schema()"))
    if current:
        return str(current)
    path = connection.scalar(sa.text("SELECT current_setting('search_path')")) or ""
    for item in (part.strip().strip('"') for part in str(path).split(",")):
        if item and item != "$user":
            return item
    return "public"


def _run(command: list[str], env: dict[str, str], tool: str) -> None:
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError("backup_tool_failed", tool=tool, detail=_tail(done.stderr))


def _tail(stderr: bytes | None, lines: int = 5) -> str:
    text = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "no message"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_report(report: RestoreReport) -> list[str]:
    """Lines for the command line: what differs, or that nothing does."""
    lines = []
    for name, (expected, found) in report.mismatched_tables.items():
        lines.append(f"table {name}: {found} row(s), the backup had {expected}")
    if report.revision != report.expected_revision:
        lines.append(f"revision {report.revision}, the backup had {report.expected_revision}")
    lines.extend(f"BROKEN {link}" for link in report.broken_links)
    return lines


def manifest_summary(manifest: Manifest) -> dict[str, Any]:
    return {
        "tables": len(manifest.row_counts), "rows": sum(manifest.row_counts.values()),
        "events": manifest.events_checked, "revision": manifest.revision,
    }
