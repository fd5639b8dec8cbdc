-- The versions of each Kong gateway's declarative config that Fountain
-- applied, so that its history can be shown and a version rolled back to.
CREATE TABLE kong_configs (
	host         TEXT    NOT NULL,
	version      INTEGER NOT NULL,
	hash         TEXT    NOT NULL,
	text         TEXT    NOT NULL,
	source       TEXT    NOT NULL DEFAULT '',
	operation_id TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (host, version)
) WITHOUT ROWID;
