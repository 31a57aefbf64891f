create table mail_queue (
    id text primary key not null,
    message_id text not null unique,
    kind text not null,
    recipient text not null,
    subject text not null,
    text_body text not null,
    html_body text not null,
    attempts integer not null default 0,
    next_attempt_at integer not null,
    locked_until integer,
    sent_at integer,
    last_error text,
    created_at integer not null
);
create index mail_queue_due on mail_queue (sent_at, next_attempt_at);

create table password_reset (
    token_hash text primary key not null,
    user_id text not null,
    expires_at integer not null,
    used_at integer,
    created_at integer not null
);

alter table account add column session_epoch integer not null default 0;
