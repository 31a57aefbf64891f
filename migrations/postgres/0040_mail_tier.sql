-- The mail worker's claim order as an index: 0 for e-mailed sign-in codes, 2 for address
-- verifications (anyone can queue them by registering), 1 for every other kind, then the
-- oldest first; unsent mail only. Before it, the claim ordered by this `case` with no index
-- to serve it: every claim read and sorted the whole backlog of due mail. An index on the
-- expression (not a stored column) keeps every row's tier right whichever version queued it.
-- `mail_queue_due` stays for retention's and the overview's questions about sent mail.
create index mail_queue_claim on mail_queue
    ((case kind when 'email_code' then 0 when 'verify_email' then 2 else 1 end), next_attempt_at)
    where sent_at is null;
