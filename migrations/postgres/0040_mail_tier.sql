-- The mail worker's claim order as a column, so that an index serves it: 0 for e-mailed
-- sign-in codes, 2 for address verifications (anyone can queue them by registering), 1 for
-- every other kind. Before this, the claim ordered by a `case` over `kind`, which no index can
-- serve: every claim read and sorted the whole backlog of due mail.
alter table mail_queue add column tier integer not null default 1;
update mail_queue set tier = case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end
    where sent_at is null;
-- Unsent mail only: a claim reads each tier's due mail oldest first and stops at its limit.
-- `mail_queue_due` stays for retention's and the overview's questions about sent mail.
create index mail_queue_claim on mail_queue (tier, next_attempt_at) where sent_at is null;
