DROP INDEX IF EXISTS usage_reports_received_at;
