-- A sign-in asks "the account's latest `login_succeeded`" (the new-device alert; the attack
-- report's "did they get in") and "its `login_failed` since …": `kind = ? and user_id = ?`,
-- newest first. With (kind, seq) and (user_id, seq) to choose from and no statistics, SQLite
-- walked (kind, seq) through every sign-in of every account until it met this one's: 226 ms
-- on a million events for an account's first sign-in (docs/benchmarks.md). (user_id, kind,
-- seq) answers it directly.
--
-- The per-column filters' indexes skip rows without the column: a token issued to a client
-- has no account, a sign-in no client, a name with no account neither; every filter compares
-- with `=`, which no null matches, so the planners still use them (`user_id = ?` implies
-- `user_id is not null`). Fewer pages to write per event.
drop index event_user_seq;
create index event_user_seq on event (user_id, seq) where user_id is not null;
create index event_user_kind_seq on event (user_id, kind, seq) where user_id is not null;
drop index event_client_seq;
create index event_client_seq on event (client_id, seq) where client_id is not null;
drop index event_decision_seq;
create index event_decision_seq on event (decision_code, seq) where decision_code is not null;
