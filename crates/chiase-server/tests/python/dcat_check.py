"""Checks chiase's DCAT with the tools a harvester would use.

Usage: dcat_check.py BASE_URL DATABASE_KEY SHAPES_DIR

- rdflib parses every serialisation (Turtle, JSON-LD, RDF/XML) of the
  catalog's first page, of one database (`/dataset/KEY.*`) and of the
  theme vocabulary (`/themes.*`), and the three give the same graph
  (isomorphic, blank nodes or not);
- every text literal is Unicode NFC;
- pySHACL validates the catalog page together with the database against
  the DCAT-AP 3.0.0 shapes in SHAPES_DIR (dcat-ap-SHACL.ttl and the
  controlled-vocabulary shapes, mdr-vocabularies.shape.ttl). No vocabulary
  is loaded beside the data: chiase's output itself types the EU concepts
  it uses (`skos:Concept`, `skos:inScheme` of their authority table), as
  the shapes expect.

Prints each violation and each warning one a line, and a last line
`ok TRIPLES VIOLATIONS WARNINGS`; exits 1 on any violation or mismatch.
"""

import sys
import unicodedata
import urllib.request
from pathlib import Path

import pyshacl
from rdflib import RDF, Graph, Literal, Namespace
from rdflib.compare import isomorphic

SH = Namespace("http://www.w3.org/ns/shacl#")
FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def parse_all(base: str, path: str) -> Graph:
    """Parses PATH.{ttl,jsonld,rdf}; fails unless the three are one graph."""
    graphs = {}
    for ext, fmt in FORMATS.items():
        g = Graph()
        g.parse(data=fetch(f"{base}{path}.{ext}"), format=fmt)
        if len(g) == 0:
            raise SystemExit(f"{path}.{ext}: empty graph")
        graphs[ext] = g
    ttl = graphs["ttl"]
    for ext, g in graphs.items():
        if not isomorphic(ttl, g):
            only_ttl = sorted(str(t) for t in set(ttl) - set(g))[:5]
            only_other = sorted(str(t) for t in set(g) - set(ttl))[:5]
            raise SystemExit(f"{path}.{ext} differs from {path}.ttl: {only_ttl} / {only_other}")
    for _, _, o in ttl:
        if isinstance(o, Literal) and not unicodedata.is_normalized("NFC", str(o)):
            raise SystemExit(f"{path}: literal not in NFC: {o!r}")
    print(f"{path}: {len(ttl)} triples, the same in {', '.join(FORMATS)}")
    return ttl


def main() -> int:
    base, key, shapes_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    catalog = parse_all(base, "/catalog")
    database = parse_all(base, f"/dataset/{key}")
    parse_all(base, "/themes")

    data = Graph()
    for t in catalog:
        data.add(t)
    for t in database:
        data.add(t)
    shapes = Graph()
    shapes.parse(shapes_dir / "dcat-ap-SHACL.ttl", format="turtle")
    shapes.parse(shapes_dir / "mdr-vocabularies.shape.ttl", format="turtle")
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", abort_on_first=False, allow_warnings=True)
    violations = warnings = 0
    # Only the report's own results: those nested in them (sh:detail, the
    # reasons a Warning-level sh:node or sh:or failed) carry their inner
    # shape's default severity and are not results of their own.
    results = [r for top in report.subjects(RDF.type, SH.ValidationReport) for r in report.objects(top, SH.result)]
    for result in results:
        severity = report.value(result, SH.resultSeverity)
        line = " | ".join(
            str(report.value(result, p))
            for p in (SH.focusNode, SH.resultPath, SH.value, SH.resultMessage)
        )
        if severity == SH.Violation:
            violations += 1
            print(f"VIOLATION {line}")
        else:
            warnings += 1
            print(f"{severity.split('#')[-1].upper()} {line}")
    print(f"ok {len(data)} {violations} {warnings}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
