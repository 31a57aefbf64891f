-- The admin overview's risk score histogram (docs/admin.md) from the hourly rollup: sign-ins
-- (login_succeeded, login_failed, login_challenged, login_blocked with a risk) per hour and
-- score bin (20 over [0, 1]), added by the same catch-up as `event_hourly`, under the same
-- `event_rollup.seq` mark. The overview reads these hours and counts the rest live.
create table event_risk_hourly (
    hour bigint not null,
    bin bigint not null,
    n bigint not null,
    primary key (hour, bin)
);
-- Events already rolled up have no bins yet: start the rollup over, so the next catch-up adds
-- every event to both tables. Until then every read counts live (exact, only slower).
delete from event_hourly;
update event_rollup set seq = 0;
