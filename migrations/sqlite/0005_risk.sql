-- Risk engine: the network prefix of each counter row (per-source and per-prefix velocity
-- features), per-user sign-in profiles, versioned models and admin labels.
alter table login_failure add column prefix text;
create index login_failure_source on login_failure (source, window_start);
create index login_failure_prefix on login_failure (prefix, window_start);

create table risk_profile (
    user_id text primary key not null,
    profile text not null,
    updated_at integer not null
);

create table risk_model (
    version integer primary key not null,
    model text not null,
    created_at integer not null
);

create table risk_label (
    event_id text primary key not null,
    attack boolean not null,
    created_at integer not null
);

create index event_kind_ts on event (kind, ts);
