-- Issue 12 (DCAT). A hosted dataset's theme: one of the national open
-- data portal's theme groups (chiase_core::theme::Theme codes), set by the
-- owner's stewards. NULL: none set; DCAT then uses the proposal derived
-- from the owner agency's name.
ALTER TABLE datasets ADD COLUMN theme TEXT;

-- When what describes the dataset last changed (titles, description,
-- licence, cadence, sharing mode, theme, schema), apart from its data:
-- `updated_at` also moves with every write of rows, so it would tell the
-- public when a restricted dataset's data changes. Existing datasets start
-- from their last schema version (else their creation): earlier
-- description edits were not dated apart.
ALTER TABLE datasets ADD COLUMN described_at TEXT NOT NULL DEFAULT '';
UPDATE datasets SET described_at = COALESCE(
    (SELECT max(changed_at) FROM dataset_schemas WHERE dataset_id = datasets.id),
    created_at
);
