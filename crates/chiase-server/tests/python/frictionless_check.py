"""Validates a Data Package with the real `frictionless` tool.

Usage: frictionless_check.py PACKAGE.zip
The archive is unzipped into a temporary directory and its datapackage.json
validated (descriptor, schemas, and every row against its schema). Prints
the report's errors one a line and a last line `valid <resources> <rows>`;
exits 1 when the package is not valid.
"""

import json
import sys
import tempfile
import zipfile

import frictionless


def main() -> int:
    archive = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        # basepath: relative resource paths are read from the unzipped tree
        # (frictionless refuses paths outside it, as it should).
        report = frictionless.validate(f"{tmp}/datapackage.json")
        errors = report.flatten(["type", "title", "note", "fieldName", "rowNumber", "cell"])
        for e in errors:
            print(json.dumps(e, ensure_ascii=False))
        if not report.valid:
            # The descriptor-level errors are in report.errors, not in tasks.
            for e in report.errors:
                print(json.dumps({"type": e.type, "note": e.note}, ensure_ascii=False))
            print("invalid")
            return 1
        rows = sum(t.stats.get("rows", 0) or 0 for t in report.tasks)
        print(f"valid {len(report.tasks)} {rows}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
