create table login_failure (
    account_key text not null,
    source text not null,
    failures bigint not null,
    window_start bigint not null,
    blocked_until bigint,
    blocks bigint not null default 0,
    updated_at bigint not null,
    created_at bigint not null,
    primary key (account_key, source)
);

create table server_secret (
    name text primary key not null,
    value text not null,
    created_at bigint not null
);
