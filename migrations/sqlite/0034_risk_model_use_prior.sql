-- (After 0031, which creates the table.)
-- The built-in prior (version 0) can be put in use again (roll back to it): a row of
-- risk_model_use with a null version selects the prior, which is in no risk_model row. The
-- table is rebuilt because SQLite cannot drop a NOT NULL constraint in place.
create table risk_model_use_new (
    id integer primary key not null check (id = 1),
    version integer references risk_model (version),
    changed_at integer not null
);
insert into risk_model_use_new (id, version, changed_at)
    select id, version, changed_at from risk_model_use;
drop table risk_model_use;
alter table risk_model_use_new rename to risk_model_use;
