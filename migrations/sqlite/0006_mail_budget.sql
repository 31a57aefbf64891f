-- Per (recipient, kind) mail budget, spent by one atomic upsert before a mail is queued, so
-- concurrent requests (on one instance or many) cannot exceed the hourly limits.
create table mail_budget (
    recipient text not null,
    kind text not null,
    window_start integer not null,
    sent integer not null,
    primary key (recipient, kind)
);
