-- The events explorer and the admin events API filter by client and by decision, newest first
-- (`order by seq desc`), like the kind, user and ip filters that have their (column, seq) index.
create index event_client_seq on event (client_id, seq);
create index event_decision_seq on event (decision_code, seq);
