-- The admin overview's pre-aggregated counts (docs/admin.md): events per hour and counted key
-- (the kind, or `stepped_up` for a `challenge_passed` with a second factor), added by a
-- background catch-up job in the order of `seq`; `event_rollup.seq` is the last event added.
-- The overview reads these hours and counts the rest (events after the mark, and the part of
-- the first hour inside its window) live.
create table event_hourly (
    hour bigint not null,
    name text not null,
    n bigint not null,
    primary key (hour, name)
);
create table event_rollup (
    id integer primary key not null check (id = 1),
    seq bigint not null
);
insert into event_rollup (id, seq) values (1, 0);
-- The top attacked accounts and sources of the last day read (kind, ts) ranges of the hostile
-- kinds; with the account or the address in the index they never visit the table.
create index event_kind_ts_user on event (kind, ts, user_id);
create index event_kind_ts_ip on event (kind, ts, ip);
-- (kind, ts, user_id) serves every (kind, ts) range the older index did.
drop index event_kind_ts;
