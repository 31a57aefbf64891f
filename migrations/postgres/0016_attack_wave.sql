-- Stuffing and spraying waves (docs/risk.md, "Waves"): per-minute tallies of failed sign-ins
-- that every instance adds its own counts to (wave minutes are flagged, so they stay out of the
-- baseline), the waves themselves (one row per kind, shared by every instance, ending by
-- itself at ends_at), and the index the detector's read of the counter rows uses.
create table attack_bucket (
    minute bigint primary key not null,
    failures bigint not null default 0,
    sprayed bigint not null default 0,
    wave bigint not null default 0,
    created_at bigint not null
);

create table attack_wave (
    kind text primary key not null,
    wave_id text not null,
    started_at bigint not null,
    ends_at bigint not null,
    failures bigint not null,
    accounts bigint not null,
    sources bigint not null,
    updated_at bigint not null,
    created_at bigint not null
);

create index login_failure_window on login_failure (window_start);
