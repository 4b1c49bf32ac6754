"""The commands about copies: `location add|list|remove`, `replicate` and `repair`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from strongroom import views
from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, open_archive, show_bar
from strongroom.cli_jobs import SubmitFlag, submit_job
from strongroom.cli_output import PACKAGE_HELP, Command, Group, console, errors, fail, human, print_json, progress
from strongroom.copies import NoGoodCopy, RepairReport
from strongroom.locations import LocationRole, LocationSpec, for_quick_check

LocationOption = Annotated[
    list[str] | None,
    typer.Option("--location", help="Only this storage location (repeat for several).", show_default=False),
]

location_app = typer.Typer(
    help="The storage locations that each keep a copy of every package: add, list, remove.",
    no_args_is_help=True,
    cls=Group,
)


def print_unreachable(out: Console, unreachable: dict[str, str]) -> None:
    for name, why in unreachable.items():
        out.print(f"[red]unreachable[/] location {escape(name)}: {escape(why)}", highlight=False)


def print_repair(out: Console, report: RepairReport) -> None:
    for location, source, restored, removed in report.healed:
        what = f"{len(restored)} file(s) restored" + (f", {len(removed)} stray file(s) removed" if removed else "")
        out.print(
            f"[green]repaired[/] {escape(report.name)} ({report.package}) in location {escape(location)} from "
            f"{escape(source)}: {what}; checked again: good.",
            highlight=False,
        )
        for path in restored[:20]:
            out.print(f"  restored {escape(path)}", highlight=False)
    for check in report.still_bad:
        out.print(
            f"[red]still damaged[/] {escape(report.name)} in location {escape(check.location)} after repair: "
            + "; ".join(escape(p.describe()) for p in check.problems[:10]),
            highlight=False,
        )
    for location, keys in report.unrecoverable.items():
        out.print(
            f"[red]no intact copy anywhere[/] of {len(keys)} file(s) needed in location {escape(location)}: "
            + ", ".join(escape(k) for k in keys[:10])
            + ". Restore them from a backup outside Strongroom (same path, same bytes), then run: strongroom repair "
            + report.package,
            highlight=False,
        )
    for location, why in report.skipped.items():
        out.print(f"[yellow]not repaired[/] location {escape(location)}: {escape(why)}", highlight=False)


@location_app.command(name="add", cls=Command)
def location_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A short name for the location: offsite, tape-copy, s3-london.")],
    path: Annotated[Path | None, typer.Option("--path", help="A folder (local disk or mounted share).")] = None,
    s3: Annotated[str | None, typer.Option("--s3", help="An S3 bucket (AWS S3, MinIO, Ceph RGW...).")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="The S3 server's URL (default: AWS S3).")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Keep the copy under this prefix in the bucket.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="The bucket's region.")] = None,
    addressing: Annotated[
        str | None, typer.Option("--addressing", help="S3 addressing style: path or virtual.")
    ] = None,
    object_lock: Annotated[
        bool, typer.Option("--object-lock", help="Record that the bucket has S3 Object Lock (checked now).")
    ] = False,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Keep it for audit and repair only: new versions are not copied into it."),
    ] = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a storage location; every new version is then stored in it too (existing ones: strongroom replicate).

    The location is checked first: reachable, credentials accepted, bucket present, writable. S3 credentials
    come from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance role)
    and are never written to strongroom.toml.
    """
    if (path is None) == (s3 is None):
        fail("give exactly one of --path FOLDER or --s3 BUCKET.", as_json=as_json)
    if path is not None and any(v is not None for v in (endpoint_url, prefix, region, addressing)):
        fail("--endpoint-url, --prefix, --region and --addressing are for --s3 locations.", as_json=as_json)
    if path is not None and object_lock:
        fail("--object-lock is for --s3 locations.", as_json=as_json)
    if addressing not in (None, "path", "virtual"):
        fail("--addressing must be path or virtual.", as_json=as_json)
    role = LocationRole.READ_ONLY if read_only else LocationRole.REPLICA
    stored: dict[str, Any]
    if path is not None:
        folder = path.expanduser().absolute()
        stored = {"path": str(folder)}
        spec = LocationSpec(name, "filesystem", {"path": str(folder), "create": True}, role)
        stored_kind = "filesystem"
    else:
        stored = {"bucket": s3, "prefix": prefix, "endpoint_url": endpoint_url, "region": region,
                  "addressing": addressing}  # fmt: skip
        options = {k: v for k, v in stored.items() if v is not None}
        spec = for_quick_check(LocationSpec(name, "s3", options, role, object_lock))
        stored_kind = "s3"
    with errors(as_json), open_archive(ctx, home) as archive:
        added = archive.add_location(spec, {k: v for k, v in stored.items() if v is not None})
        packages = len(archive.catalog.package_uuids())
    if as_json:
        print_json({"name": name, "kind": stored_kind, "role": role.value, "where": spec.where(), "packages": packages,
                    "object_lock": object_lock, "copies_found": added.copies_found})  # fmt: skip
        return
    out = console()
    checked = "checked and reachable" + ("" if read_only else ", and writable")
    out.print(f"Added location {escape(name)} ({escape(spec.where())}): {checked}.", highlight=False)
    if added.copies_found:
        out.print(f"It already holds {added.copies_found} of this archive's {packages} package(s); its first audit "
                  "checks them.", highlight=False)  # fmt: skip
    if role is LocationRole.REPLICA:
        out.print("New versions are stored there too.", highlight=False)
        if packages > added.copies_found:
            out.print(f"It lacks {packages - added.copies_found} of the {packages} existing package(s). Copy them "
                      "with: strongroom replicate", highlight=False)  # fmt: skip


@location_app.command(name="list", cls=Command)
def location_list(ctx: typer.Context, home: HomeOption = None, as_json: JsonFlag = False) -> None:
    """List the storage locations: kind, role, packages and bytes held, and when they were last audited."""
    with errors(as_json), open_archive(ctx, home) as archive:
        statuses = archive.location_statuses()
        total = len(archive.catalog.package_uuids())
    if as_json:
        print_json({"packages": total, "locations": [views.location_json(s) for s in statuses]})
        return
    table = Table("Name", "Kind", "Role", "Where", "Packages", "Bytes", "Oldest check", "Newest check", "Failing")
    for status in statuses:
        data = views.location_json(status)
        role = data["role"] + (" (primary)" if status.primary else "")
        held = f"{data['current']} of {total}" if data["packages"] == data["current"] else (
            f"{data['current']} of {total} ({data['packages'] - data['current']} behind)")  # fmt: skip
        table.add_row(
            escape(data["name"]), data["kind"] + (" +lock" if data["object_lock"] else ""), role,
            escape(data["where"]), held, human(data["bytes"]),
            _day(data["last_audit"]["oldest"]) if data["packages"] else "-",
            _day(data["last_audit"]["newest"]), str(data["failing"]),
        )  # fmt: skip
    console().print(table)


def _day(moment: str | None) -> str:
    return moment[:16].replace("T", " ") if moment else "never"


@location_app.command(name="remove", cls=Command)
def location_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The location to stop using.")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Stop using a location (its files are left where they are). Refused while it holds the only good copy
    of any package."""
    with errors(as_json), open_archive(ctx, home) as archive:
        notes = archive.remove_location(name)
    if as_json:
        print_json({"removed": name, "notes": notes})
    else:
        out = console()
        out.print(f"Removed location {escape(name)}.", highlight=False)
        for note in notes:
            out.print(f"  {escape(note)}", highlight=False)


def replicate_command(
    ctx: typer.Context,
    location: Annotated[str | None, typer.Option("--location", help="Only fill this location.")] = None,
    submit: SubmitFlag = False,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy into every replica location what it lacks (packages, versions, journal); safe to stop and rerun.

    Each copy is checked against the SHA-256 recorded at ingest as it is stored, and recorded as a PREMIS
    replication event. Exit 1 if anything could not be copied.
    """
    if submit:
        from strongroom.web.jobs_preservation import REPLICATE

        params = {"operator": current_operator(), "location": location}
        title = f"Replicate to {location}" if location else "Replicate to storage locations"
        submit_job(ctx, home, REPLICATE, params, title, as_json)
        return
    with errors(as_json), open_archive(ctx, home) as archive, progress(show_bar(as_json)) as bar:
        report = archive.replicate(current_operator(), location, bar)
    if as_json:
        print_json(views.replicate_json(report))
    else:
        out = console()
        for failure in report.failures:
            out.print(f"[red]not copied[/] {escape(failure.package)} to {escape(failure.location)}: "
                      f"{escape(failure.message)}", highlight=False)  # fmt: skip
        print_unreachable(out, report.unreachable)
        copied_bytes = sum(c.bytes for c in report.copies)
        out.print(
            f"Copied {len(report.copies)} package(s) ({human(copied_bytes)}); {report.up_to_date} copies were "
            f"already up to date; {report.journal_batches} journal batch(es) copied.",
            highlight=False,
        )
        if report.failures or report.unreachable:
            out.print("Run `strongroom replicate` again once the location answers; it continues where it stopped.")
    if report.failures or report.unreachable:
        raise typer.Exit(1)


def repair_command(
    ctx: typer.Context,
    package: Annotated[str, typer.Argument(help=f"The package: {PACKAGE_HELP}.")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a package in every location and heal each damaged or missing copy from one that verifies.

    A good copy is never written to. Refused, changing nothing, when no location holds a good copy.
    Exit 1 unless every copy is good at the end.
    """
    bad: NoGoodCopy | None = None
    report: RepairReport | None = None
    with errors(as_json), open_archive(ctx, home) as archive:
        try:
            report = archive.repair(package, current_operator())
        except NoGoodCopy as err:
            bad = err
    if report is None:
        assert bad is not None
        if as_json:
            print_json({"package": package, "ok": False, "error": bad.message,
                        "checks": [views.copy_check_json(c) for c in bad.checks]})  # fmt: skip
        else:
            out = console()
            out.print(f"[red]{escape(bad.message)}[/]", highlight=False)
            for detail in bad.details:
                out.print(f"  {escape(detail)}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        print_json(views.repair_json(report))
    else:
        out = console()
        if not report.healed and report.ok:
            out.print(f"Every copy of {escape(report.name)} verifies ({', '.join(report.good)}): nothing to repair.",
                      highlight=False)  # fmt: skip
        print_repair(out, report)
    if not report.ok:
        raise typer.Exit(1)


def register_copy_commands(app: typer.Typer) -> None:
    app.add_typer(location_app, name="location")
    app.command(name="replicate", cls=Command)(replicate_command)
    app.command(name="repair", cls=Command)(repair_command)
