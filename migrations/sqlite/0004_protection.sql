create table login_failure (
    account_key text not null,
    source text not null,
    failures integer not null,
    window_start integer not null,
    blocked_until integer,
    blocks integer not null default 0,
    updated_at integer not null,
    created_at integer not null,
    primary key (account_key, source)
);

create table server_secret (
    name text primary key not null,
    value text not null,
    created_at integer not null
);
