-- Mailed links (unlock, "wasn't you?") work once: a link's SHA-256 is recorded when it is used,
-- and a recorded link is refused. Rows are kept until the link would have expired anyway.
create table spent_link (
    digest text primary key not null,
    purpose text not null,
    expires_at integer not null,
    created_at integer not null
);
create index spent_link_expiry on spent_link (expires_at);
