-- (After 0031, which creates the table.)
-- The built-in prior (version 0) can be put in use again (roll back to it): a row of
-- risk_model_use with a null version selects the prior, which is in no risk_model row.
alter table risk_model_use alter column version drop not null;
