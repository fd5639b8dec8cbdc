-- An operation may be a child of another: a stack apply is one operation
-- with a child per resource.
ALTER TABLE operations ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
CREATE INDEX operations_parent ON operations (parent_id) WHERE parent_id != '';
