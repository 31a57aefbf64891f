create table account (
    id text primary key not null,
    email text not null,
    password_hash text not null,
    is_admin integer not null default 0,
    created_at integer not null,
    updated_at integer not null,
    constraint account_email_key unique (email)
);

create table event (
    seq integer primary key autoincrement,
    id text not null unique,
    ts integer not null,
    kind text not null,
    ip text,
    user_agent text,
    user_id text,
    username text,
    client_id text,
    risk text,
    decision text,
    request_id text,
    created_at integer not null
);
create index event_user_seq on event (user_id, seq);
create index event_kind_seq on event (kind, seq);
create index event_ip_seq on event (ip, seq);
create index event_ts on event (ts);
