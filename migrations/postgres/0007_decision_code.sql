-- The event's decision as a stable code (`Decision::code`) beside its readable text. Rows
-- written before this have none; authd reads their decision from the text.
alter table event add column decision_code text;
