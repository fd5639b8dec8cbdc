-- What Fountain remembers of its own writes of GitHub Actions secrets: a
-- keyed hash (HMAC-SHA256) of the value, never the value, and GitHub's
-- updated_at right after the write, so that sending the same value again
-- changes nothing while nobody else wrote the secret since.
CREATE TABLE github_secrets (
	api         TEXT    NOT NULL, -- the API root, e.g. https://api.github.com/
	repo        TEXT    NOT NULL, -- owner/name, lower case
	environment TEXT    NOT NULL, -- '' for a repository secret; lower case
	name        TEXT    NOT NULL, -- upper case
	mac         BLOB    NOT NULL,
	updated_at  INTEGER NOT NULL, -- GitHub's updated_at, Unix milliseconds
	written_at  INTEGER NOT NULL, -- when Fountain recorded it
	PRIMARY KEY (api, repo, environment, name)
) WITHOUT ROWID;
