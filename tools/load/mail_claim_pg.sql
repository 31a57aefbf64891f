-- Migration 0040 on PostgreSQL: the mail worker's claim (`DUE_MAIL`, `storage/mail.rs`) on a
-- backlog of 100 000 unsent mails, before and after the index (docs/benchmarks.md, "The mail
-- queue's claim on a backlog"). In a scratch database, from the repository's root:
--   createdb -h 127.0.0.1 -U postgres authd_mailplan
--   psql -h 127.0.0.1 -U postgres -d authd_mailplan -f tools/load/mail_claim_pg.sql
--   dropdb -h 127.0.0.1 -U postgres authd_mailplan
-- The table is `mail_queue` as migration 0003 makes it; the backlog as `mail_claim.py` queues
-- it (nine in ten address verifications, a hundred e-mailed codes, a third of every kind
-- waiting for a retry). The claim after is `DUE_MAIL` with `$1` = 1900000000, `$2` = 10.
create table mail_queue (
    id text primary key not null, message_id text not null unique, kind text not null,
    recipient text not null, subject text not null, text_body text not null,
    html_body text not null, attempts bigint not null default 0,
    next_attempt_at bigint not null, locked_until bigint, sent_at bigint, last_error text,
    created_at bigint not null);
create index mail_queue_due on mail_queue (sent_at, next_attempt_at);
insert into mail_queue (id, message_id, kind, recipient, subject, text_body, html_body,
    next_attempt_at, created_at)
select 'm' || i, '<m' || i || '@x>',
    case when i < 100 then 'email_code' when i % 10 <> 0 then 'verify_email' else 'attack' end,
    'r' || i || '@x', 's', 't', 'h',
    case when i % 3 = 0 then 1900000300 else 1900000000 - 100000 + i end, 0
from generate_series(0, 99999) i;
analyze mail_queue;
-- Before 0040.
explain analyze select id from mail_queue where sent_at is null and next_attempt_at <= 1900000000
    and (locked_until is null or locked_until <= 1900000000)
    order by case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end,
    next_attempt_at limit 10;
\timing on
\i migrations/postgres/0040_mail_tier.sql
\timing off
analyze mail_queue;
-- After.
explain analyze select id from (
    select * from (select id, 0 as tier, next_attempt_at from mail_queue where sent_at is null
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 0
        and next_attempt_at <= 1900000000 and (locked_until is null or locked_until <= 1900000000)
        order by next_attempt_at limit 10) t0
    union all select * from (select id, 1 as tier, next_attempt_at from mail_queue where sent_at is null
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 1
        and next_attempt_at <= 1900000000 and (locked_until is null or locked_until <= 1900000000)
        order by next_attempt_at limit 10) t1
    union all select * from (select id, 2 as tier, next_attempt_at from mail_queue where sent_at is null
        and (case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end) = 2
        and next_attempt_at <= 1900000000 and (locked_until is null or locked_until <= 1900000000)
        order by next_attempt_at limit 10) t2
    ) due order by tier, next_attempt_at limit 10;
