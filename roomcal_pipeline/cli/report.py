"""What the CLI prints: run summaries and the per-room status table."""

from __future__ import annotations

import psycopg
from psycopg import sql

from roomcal_pipeline.warehouse.discovery import DiscoveryReport, discovery_report

# What an admin should do for each reason code ({detail} is the room's status detail).
ADVICE = {
    "no_email": "add the room's mailbox email to the registry",
    "mailbox_not_found": "check the email: no such mailbox in the tenant",
    "mailbox_not_enabled": "the mailbox is inactive, soft-deleted or on-premises: ask the Exchange admin",
    "access_denied": "ask the Exchange admin to include the room in the application access policy",
    "auth_failed": "check the credential (ROOMCAL_GRAPH_TOKEN, or the AZURE_* app settings) and the app's Calendars.Read consent",
    "throttled": "Graph kept throttling this mailbox; it will be retried on the next run",
    "error": "see the detail in raw.room_sync_results; fix, then re-run the room (--rooms)",
    "not_registered": "none: kept for its history; add it back to the registry to sync it again",
    "invalid_registry_row": "fix the registry row ({detail}); its history is kept",
}
REASON_TEXT = {
    "no_email": "no email in the registry",
    "mailbox_not_found": "mailbox not found",
    "mailbox_not_enabled": "mailbox not enabled for REST",
    "access_denied": "access denied by policy",
    "auth_failed": "authentication failed",
    "throttled": "throttled by Graph",
    "error": "error",
    "not_registered": "left the registry (history kept)",
    "invalid_registry_row": "registry row is malformed",
}


QUARANTINE_ADVICE = (
    "{n} event(s) set aside: see raw.quarantined_events; the room's other events are loaded"
)


def run_summary(conn: psycopg.Connection, run_id: str) -> str:
    rows = conn.execute(
        "select coalesce(room_email, room_name), status, reason, detail, events_loaded,"
        " events_quarantined, requests from raw.room_sync_results where run_id = %s"
        " order by status desc, room_key",
        (run_id,),
    ).fetchall()
    synced = [r for r in rows if r[1] == "synced"]
    failed = [r for r in rows if r[1] != "synced"]
    lines = [
        f"Rooms synced: {len(synced)} of {len(rows)}; events loaded: {sum(r[4] for r in rows)}"
        f" (quarantined: {sum(r[5] for r in rows)}); Graph requests: {sum(r[6] for r in rows)}",
    ]
    if failed:
        lines.append("Rooms not synced:")
        width = max(len(r[0]) for r in failed)
        for room, _, reason, _, *_ in failed:
            lines.append(f"  {room:<{width}}  {reason:<20} {ADVICE.get(reason, '')}")
    unregistered = conn.execute(
        "select coalesce(room_email, room_name), registry_status, coalesce(registry_detail, '')"
        " from raw.rooms where registry_status <> 'registered' order by registry_line, room_key"
    ).fetchall()
    if unregistered:
        lines.append("Rooms kept for their history, not synced:")
        width = max(len(r[0]) for r in unregistered)
        for room, status, detail in unregistered:
            lines.append(f"  {room:<{width}}  {status:<20} {detail}")
    marts = mart_row_counts(conn)
    if marts:
        lines.append("Marts (schema marts): " + ", ".join(f"{t} {n}" for t, n in marts.items()))
    return "\n".join(lines)


def mart_row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'marts' and table_type = 'BASE TABLE' order by table_name"
        )
    ]
    return {
        t: conn.execute(
            sql.SQL("select count(*) from marts.{}").format(sql.Identifier(t))
        ).fetchone()[0]
        for t in tables
    }


def status_table(conn: psycopg.Connection) -> str:
    """Every registered room from marts.room_sync_status, with what an admin should do,
    then what room discovery found."""
    built = conn.execute("select to_regclass('marts.room_sync_status')").fetchone()[0]
    if not built:
        return (
            "No sync status yet: run `roomcal run --start ... --end ...` (or `roomcal demo`) first."
        )
    rows = conn.execute(
        "select coalesce(room_email, '(no email)'), room_name, status, reason, last_synced_at,"
        " events_synced, coalesce(events_quarantined, 0), coalesce(detail, '')"
        " from marts.room_sync_status order by status desc, room_name"
    ).fetchall()
    header = ("room", "name", "status", "reason", "last synced", "events", "what to do")
    table = [
        (
            email,
            name,
            status,
            REASON_TEXT.get(reason, reason or ""),
            last_ok.strftime("%Y-%m-%d %H:%M") if last_ok else "-",
            str(events) if events is not None else "-",
            ADVICE.get(reason, "run roomcal run for this room").format(detail=detail)
            if status != "synced"
            else (QUARANTINE_ADVICE.format(n=quarantined) if quarantined else ""),
        )
        for email, name, status, reason, last_ok, events, quarantined, detail in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    out += [fmt.format(*row).rstrip() for row in table]
    synced = sum(1 for row in table if row[2] == "synced")
    out.append(f"\n{synced} of {len(table)} registered rooms synced.")
    out.append(discovery_text(discovery_report(conn)))
    return "\n".join(out)


def discovery_text(report: DiscoveryReport | None) -> str:
    if report is None:
        return "Room discovery has not run (it needs the Place.Read.All permission)."
    lines = [f"Room discovery: {report.tenant_rooms} rooms in the tenant."]
    if report.missing_from_registry:
        lines.append("  In the tenant but not in the registry (add them to sync them):")
        lines += [f"    {email}" for email in report.missing_from_registry]
    if report.not_rooms_in_tenant:
        lines.append("  Registered but not a room of the tenant (check the email):")
        lines += [f"    {email}" for email in report.not_rooms_in_tenant]
    return "\n".join(lines)
