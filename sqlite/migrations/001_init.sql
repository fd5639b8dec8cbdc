CREATE TABLE operations (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	target      TEXT NOT NULL DEFAULT '',
	request     TEXT,
	status      TEXT NOT NULL,
	changed     INTEGER NOT NULL DEFAULT 0,
	message     TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	error_code  TEXT NOT NULL DEFAULT '',
	result      TEXT,
	steps       TEXT NOT NULL DEFAULT '[]',
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER
);
CREATE INDEX operations_created ON operations (created_at);
CREATE INDEX operations_status ON operations (status);

CREATE TABLE audit (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	time         INTEGER NOT NULL,
	method       TEXT NOT NULL,
	route        TEXT NOT NULL,
	target       TEXT NOT NULL DEFAULT '',
	outcome      TEXT NOT NULL,
	status_code  INTEGER NOT NULL DEFAULT 0,
	operation_id TEXT NOT NULL DEFAULT '',
	detail       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE idempotency_keys (
	key          TEXT PRIMARY KEY,
	request_hash TEXT NOT NULL,
	status_code  INTEGER NOT NULL DEFAULT 0,
	headers      TEXT NOT NULL DEFAULT '{}',
	body         BLOB,
	created_at   INTEGER NOT NULL
);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);

CREATE TABLE host_keys (
	host        TEXT NOT NULL,
	algorithm   TEXT NOT NULL,
	public_key  TEXT NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (host, algorithm)
);
