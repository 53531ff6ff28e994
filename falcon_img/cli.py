"""The ``falcon-img`` command line: plain functions do the work, thin click commands wrap them."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from . import __version__, db, models
from .app import open_services
from .consistency import inspect_collection
from .consistency import repair as repair_collection
from .ingest import IngestError, NameTaken, ingest_image, safe_name
from .migrations import SchemaError, upgrade_schema
from .models import Image
from .settings import Settings, SettingsError
from .storage import Storage, StorageError


@dataclasses.dataclass
class ImportSummary:
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    problems: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def line(self) -> str:
        return f"Imported {self.imported}, skipped {self.skipped}, rejected {self.rejected}."


def importable_files(directory: Path) -> list[Path]:
    """The regular, visible files of ``directory``, in name order."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def import_images(
    files: Iterable[Path], *, storage: Storage, settings: Settings,
    on_problem: Callable[[Path, str], None] = lambda path, reason: None,
) -> ImportSummary:
    """Ingest each file through the same checks as an upload; existing names are skipped."""
    summary = ImportSummary()

    def reject(path: Path, reason: str) -> None:
        summary.rejected += 1
        summary.problems.append((path.name, reason))
        on_problem(path, reason)

    for path in files:
        name = safe_name(path.name, settings.max_name_bytes)
        if name and Image.select().where(Image.name == name).exists():
            summary.skipped += 1
            continue
        try:
            with path.open("rb") as stream:
                ingest_image(stream, name, storage=storage, settings=settings)
        except NameTaken:
            summary.skipped += 1
        except IngestError as exc:
            reject(path, str(exc))
        except OSError as exc:
            reject(path, f"cannot be read: {exc.strerror or exc}")
        else:
            summary.imported += 1
    return summary


@click.group()
@click.version_option(__version__, prog_name="falcon-img")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """falcon-img: a REST API for images and their comments."""
    if ctx.obj is None:
        try:
            ctx.obj = Settings.load(environ=os.environ)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc


@cli.command("init-db")
@click.option("-p", "--path", "import_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Import every image in this folder (default: instance/resources/tmp_img when it exists).")
@click.option("--drop", is_flag=True, help="Drop all tables first: every image and comment is lost.")
@click.option("--yes", is_flag=True, help="Do not ask before --drop.")
@click.pass_obj
def init_db(settings: Settings, import_dir: Path | None, drop: bool, yes: bool) -> None:
    """Create the tables (safe to run twice) and import images from a folder."""
    storage = open_services(settings)
    if drop and not yes:
        click.confirm("This deletes every image and comment. Continue?", abort=True)
    try:
        with db.connection():
            if drop:
                models.drop_tables()
            before, after = upgrade_schema()
            change = f"upgraded from schema {before} to {after}" if before not in (None, after) else f"schema {after}"
            click.echo(f"Database ready ({change}): {_redacted(settings.resolved_database_url)}")
            if import_dir is None and settings.import_dir.is_dir():
                import_dir = settings.import_dir
            if import_dir is None:
                return
            files = importable_files(import_dir)

            def report(path: Path, reason: str) -> None:
                click.echo(f"\nrejected {path.name}: {reason}", err=True)

            with click.progressbar(files, label=f"Importing {import_dir}", file=sys.stderr) as bar:
                summary = import_images(bar, storage=storage, settings=settings, on_problem=report)
            click.echo(summary.line())
    except db.UNAVAILABLE_ERRORS as exc:
        raise click.ClickException(f"the database is not answering: {exc}") from exc
    except (StorageError, SchemaError) as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command("check")
@click.option("--repair", is_flag=True, help="Remove orphan files and rows, stale variants and temporary files.")
@click.option("--no-verify", is_flag=True, help="Skip re-hashing every stored file (much faster).")
@click.option("--temp-age", type=click.FloatRange(min=0), default=3600, show_default=True,
              help="Temporary files older than this many seconds count as left by a killed upload.")
@click.pass_obj
def check_command(settings: Settings, repair: bool, no_verify: bool, temp_age: float) -> None:
    """Check that the database and the storage agree; exit 1 while problems remain."""
    storage = open_services(settings)
    try:
        with db.connection():
            with click.progressbar(length=0, label="Verifying stored files", file=sys.stderr) as bar:
                def progress(items):
                    items = list(items)
                    bar.length = len(items)
                    for item in items:
                        yield item
                        bar.update(1)

                found = inspect_collection(storage, settings, verify=not no_verify, temp_age=temp_age,
                                           progress=progress)
            for line in found.lines():
                click.echo(line)
            repaired = repair_collection(found, storage) if repair else 0
    except db.UNAVAILABLE_ERRORS as exc:
        raise click.ClickException(f"the database is not answering: {exc}") from exc
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    remaining = found.unrepairable + (found.repairable - repaired)
    click.echo(
        f"Checked: {found.unrepairable + found.repairable} problem(s) found, {repaired} repaired, {remaining} remaining."
    )
    if remaining:
        sys.exit(1)


@cli.command("openapi")
@click.pass_obj
def openapi_command(settings: Settings) -> None:
    """Print the OpenAPI 3.1 document of the API (JSON)."""
    from .app import routes
    from .openapi import build_spec

    storage = open_services(settings)
    table = routes(storage, settings)
    click.echo(json.dumps(build_spec(table, settings), indent=2))


def _redacted(url: str) -> str:
    """A database URL fit for a log: the password replaced."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def main() -> None:
    cli(prog_name="falcon-img")
