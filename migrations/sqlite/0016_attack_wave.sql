-- Stuffing and spraying waves (docs/risk.md, "Waves"): per-minute tallies of failed sign-ins
-- that every instance adds its own counts to (wave minutes are flagged, so they stay out of the
-- baseline), the waves themselves (one row per kind, shared by every instance, ending by
-- itself at ends_at), and the index the detector's read of the counter rows uses.
create table attack_bucket (
    minute integer primary key not null,
    failures integer not null default 0,
    sprayed integer not null default 0,
    wave integer not null default 0,
    created_at integer not null
);

create table attack_wave (
    kind text primary key not null,
    wave_id text not null,
    started_at integer not null,
    ends_at integer not null,
    failures integer not null,
    accounts integer not null,
    sources integer not null,
    updated_at integer not null,
    created_at integer not null
);

create index login_failure_window on login_failure (window_start);
