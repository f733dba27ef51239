-- Settings an administrator changes while the server runs (issue 11,
-- item 4): the portal's name, the map tiles, the mail sender. A row
-- overrides the configuration's value (file, variable, flag) for every
-- process on the database; no row: the configuration's value. `value`
-- NULL: the setting is unset (an optional one, such as `map_tiles`).
CREATE TABLE runtime_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
