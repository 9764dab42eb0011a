"""Raw tables, created by numbered, re-runnable migrations.

dbt reads these tables as its sources; the extraction assets and (later) the
delta sync write them, always with rows that went through the privacy allowlist.
"""

from __future__ import annotations

import psycopg

RAW_SCHEMA = "raw"

# Append only: a migration, once released, is never edited.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        create table if not exists raw.rooms (
            room_key text primary key,
            room_email text unique,
            room_name text not null,
            building text,
            floor text,
            capacity integer,
            timezone text not null,
            business_open_minute integer not null,
            business_close_minute integer not null,
            business_days text not null,
            registry_line integer not null,
            loaded_at timestamptz not null default now()
        );
        comment on table raw.rooms is
            'The room registry CSV as last loaded; business_days holds ISO weekday numbers (Mon=1).';

        create table if not exists raw.room_events (
            room_email text not null,
            event_id text not null,
            ical_uid text,
            series_master_id text,
            event_type text,
            start_at timestamptz not null,
            end_at timestamptz not null,
            start_timezone text,
            end_timezone text,
            is_all_day boolean,
            created_at timestamptz,
            last_modified_at timestamptz,
            organizer_name text,
            organizer_address text,
            attendees jsonb,
            location jsonb,
            locations jsonb,
            recurrence jsonb,
            sensitivity text,
            is_cancelled boolean,
            show_as text,
            online_meeting_provider text,
            is_online_meeting boolean not null default false,
            extracted_at timestamptz not null default now(),
            primary key (room_email, event_id)
        );
        create index if not exists room_events_room_start on raw.room_events (room_email, start_at);
        comment on table raw.room_events is
            'Room calendar events, only the SPEC section 4 allowlisted attributes. '
            'A row belongs to the window that holds its start.';

        create table if not exists raw.quarantined_events (
            room_email text not null,
            event_id text,
            reason text not null,
            window_start timestamptz not null,
            window_end timestamptz not null,
            run_id text,
            quarantined_at timestamptz not null default now()
        );
        create index if not exists quarantined_events_room
            on raw.quarantined_events (room_email, window_start);

        create table if not exists raw.room_sync_results (
            run_id text not null,
            room_key text not null,
            room_email text,
            room_name text,
            window_start_date date not null,
            window_end_date date not null,
            status text not null check (status in ('synced', 'not_synced')),
            reason text,
            detail text,
            events_loaded integer not null default 0,
            events_quarantined integer not null default 0,
            requests integer not null default 0,
            retries integer not null default 0,
            throttled_responses integer not null default 0,
            throttle_wait_seconds double precision not null default 0,
            started_at timestamptz not null,
            finished_at timestamptz not null,
            primary key (run_id, room_key)
        );

        create table if not exists raw.organizer_directory (
            organizer_address text primary key,
            department text,
            lookup_status text not null
                check (lookup_status in ('found', 'not_found', 'forbidden', 'error')),
            looked_up_at timestamptz not null default now()
        );
        """,
    ),
    (
        2,
        """
        create table if not exists raw.tenant_rooms (
            room_email text primary key,
            display_name text,
            capacity integer,
            building text,
            floor_number integer,
            discovered_at timestamptz not null default now()
        );
        comment on table raw.tenant_rooms is
            'Rooms the tenant lists in the places API, as last discovered.';
        """,
    ),
    (
        3,
        """
        create table if not exists raw.delta_state (
            room_email text primary key,
            window_start timestamptz not null,
            window_end timestamptz not null,
            delta_link text not null,
            updated_at timestamptz not null default now()
        );
        comment on table raw.delta_state is
            'Graph calendarView delta links per room and rolling window (roomcal sync).';

        create table if not exists raw.series_masters (
            room_email text not null,
            event_id text not null,
            event jsonb not null,
            updated_at timestamptz not null default now(),
            primary key (room_email, event_id)
        );
        comment on table raw.series_masters is
            'Allowlisted series masters seen by delta sync, to complete partial occurrences.';
        """,
    ),
    (
        4,
        """
        alter table raw.rooms
            add column if not exists registry_status text not null default 'registered'
                check (registry_status in ('registered', 'not_registered', 'invalid_registry_row')),
            add column if not exists registry_detail text;
        comment on table raw.room_events is
            'Room calendar events, only the allowlisted attributes (docs/privacy.md), each '
            'stored whole. A window owns every row it overlaps (extraction/unit_of_work.py).';
        comment on column raw.rooms.registry_status is
            'registered; not_registered (left the registry, history kept); '
            'invalid_registry_row (its row is malformed: last valid settings kept).';
        """,
    ),
    (
        5,
        """
        alter table raw.room_sync_results
            add column if not exists changed_first_date date,
            add column if not exists changed_last_date date;
        comment on column raw.room_sync_results.changed_first_date is
            'First local date whose rows this result changed (a booking that spans days '
            'changes every date it overlaps): the marts rebuild at least these dates.';
        """,
    ),
    (
        6,
        """
        alter table raw.organizer_directory
            add column if not exists changed_by_run text;
        comment on column raw.organizer_directory.changed_by_run is
            'The last run whose answer changed this organizer''s group (department or '
            'status): that run rebuilds the marts of every date the organizer booked.';
        """,
    ),
    (
        7,
        """
        create index if not exists room_sync_results_room_window
            on raw.room_sync_results
            (room_key, window_start_date, window_end_date, status, finished_at);
        create index if not exists room_sync_results_room_latest
            on raw.room_sync_results (room_key, finished_at desc, started_at desc, run_id desc);
        """,
    ),
    (
        8,
        """
        create index if not exists room_events_span on raw.room_events
            using gist (tstzrange(start_at, greatest(start_at, end_at), '[]'));
        comment on index raw.room_events_span is
            'The events that overlap a time range (dbt macro roomcal_utc_prefilter): a '
            'partition build reads the events near its dates, not every event.';
        """,
    ),
]


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply the migrations not yet applied, under an advisory lock; returns those applied."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('roomcal.migrate'))")
        conn.execute(f"create schema if not exists {RAW_SCHEMA}")
        conn.execute(
            "create table if not exists raw.schema_migrations ("
            " version integer primary key, applied_at timestamptz not null default now())"
        )
        done = {row[0] for row in conn.execute("select version from raw.schema_migrations")}
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            conn.execute(sql)
            conn.execute("insert into raw.schema_migrations (version) values (%s)", (version,))
            applied.append(version)
    return applied
