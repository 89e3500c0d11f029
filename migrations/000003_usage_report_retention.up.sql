-- Usage report ids are kept only as long as an edge may still retry a
-- report (the control plane prunes them after 35 days, see
-- postgres.PruneUsageReports); the prune finds them by age.
CREATE INDEX usage_reports_received_at ON usage_reports (received_at);
