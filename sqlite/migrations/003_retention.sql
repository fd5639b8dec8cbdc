-- Retention prunes audit entries by time in small batches: an index keeps
-- each batch a short range scan rather than a walk of the whole table.
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
