-- The audit log is appended on every mutating request, so each insert
-- must be cheap: a plain rowid key instead of AUTOINCREMENT, which costs a
-- write to sqlite_sequence per row. Entries are only ever pruned from the
-- oldest end, so ids still only grow.
CREATE TABLE audit_new (
	id           INTEGER PRIMARY KEY,
	time         INTEGER NOT NULL,
	method       TEXT NOT NULL,
	route        TEXT NOT NULL,
	target       TEXT NOT NULL DEFAULT '',
	outcome      TEXT NOT NULL,
	status_code  INTEGER NOT NULL DEFAULT 0,
	operation_id TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT ''
);
INSERT INTO audit_new (id, time, method, route, target, outcome, status_code, operation_id, detail)
	SELECT id, time, method, route, target, outcome, status_code, operation_id, detail FROM audit;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_time ON audit (time);
