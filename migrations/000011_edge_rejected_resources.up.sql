-- Resources an edge refused alone in the config version it applied (the
-- rest of that version applies): [{"resource": "account/acme",
-- "errorDetail": "…"}], replaced by each ACK, empty when none.
ALTER TABLE edge_nodes ADD COLUMN rejected jsonb NOT NULL DEFAULT '[]'::jsonb;
