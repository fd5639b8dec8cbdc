-- Named secrets of the vault, which stack files refer to by name (a
-- database password, a deploy key), encrypted with the data directory's
-- key (AES-256-GCM, the scope "stack" and the name bound as associated
-- data); never in clear.
CREATE TABLE vault_secrets (
	name       TEXT    NOT NULL PRIMARY KEY,
	nonce      BLOB    NOT NULL,
	ciphertext BLOB    NOT NULL,
	created_at INTEGER NOT NULL, -- Unix milliseconds
	updated_at INTEGER NOT NULL  -- when the value last changed
) WITHOUT ROWID;
