-- Secrets of the services Fountain deploys (an OpenSearch admin password),
-- encrypted with the data directory's key (AES-256-GCM); never in clear.
CREATE TABLE service_secrets (
	scope      TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	nonce      BLOB    NOT NULL,
	ciphertext BLOB    NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (scope, name)
);
