-- Every event of an operation (a step starting or ending, a line of output),
-- appended as it happens, so the whole log survives a crash and a dropped
-- event stream can resume where it stopped.
CREATE TABLE operation_events (
	operation_id TEXT    NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
	seq          INTEGER NOT NULL,
	time         INTEGER NOT NULL,
	type         TEXT    NOT NULL,
	step         INTEGER NOT NULL DEFAULT -1,
	data         TEXT    NOT NULL,
	PRIMARY KEY (operation_id, seq)
) WITHOUT ROWID;

ALTER TABLE operations ADD COLUMN locks TEXT NOT NULL DEFAULT '[]';
ALTER TABLE operations ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
