"""Validates an OpenAPI document with openapi-spec-validator.

Usage: openapi_check.py FILE
"""

import json
import sys

from openapi_spec_validator import validate

with open(sys.argv[1], encoding="utf-8") as f:
    spec = json.load(f)
validate(spec)
print(f"openapi-spec-validator: valid ({len(spec['paths'])} paths)")
