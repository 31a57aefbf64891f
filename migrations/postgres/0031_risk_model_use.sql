-- The risk model version an operator put in use (admin console or API: promote or roll back).
-- At most one row; with none, the newest stored version is in use. Training a new version
-- removes the row (the new model is in use). Every instance reads it on its model reload.
create table risk_model_use (
    id integer primary key not null check (id = 1),
    version bigint not null references risk_model (version),
    changed_at bigint not null
);
