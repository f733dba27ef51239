-- Same columns and meaning as migrations/sqlite/0010_dataset_theme.sql.
ALTER TABLE datasets ADD COLUMN theme TEXT;

ALTER TABLE datasets ADD COLUMN described_at TIMESTAMPTZ;
UPDATE datasets SET described_at = COALESCE(
    (SELECT max(changed_at) FROM dataset_schemas WHERE dataset_id = datasets.id),
    created_at
);
ALTER TABLE datasets ALTER COLUMN described_at SET NOT NULL;
