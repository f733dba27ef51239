"""Drives chiase's CKAN Action API with the real ckanapi client, as an
agency's script would: metadata actions, package_search with fq and facets,
datastore_search paged to the end through _links.next, a restricted
resource refused, datastore_upsert with a steward's token.

Usage: ckan_client.py BASE_URL STEWARD_TOKEN OPEN_RESOURCE RESTRICTED_RESOURCE
"""

import sys
from urllib.parse import parse_qsl, urlparse

import ckanapi

base, token, open_id, restricted_id = sys.argv[1:5]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    checks += 1


public = ckanapi.RemoteCKAN(base, user_agent="chiase-test")
steward = ckanapi.RemoteCKAN(base, apikey=token, user_agent="chiase-test")

status = public.action.status_show()
check(status["ckan_version"].startswith("2."), "status_show names a CKAN version")

names = public.action.package_list()
check(len(names) == 31, f"31 packages, got {len(names)}")
check(names == sorted(names), "package_list is sorted by name")

orgs = public.action.organization_list(all_fields=True, limit=25)
check(orgs and all(o["is_organization"] for o in orgs), "organization_list(all_fields) gives organizations")
org = public.action.organization_show(id=orgs[0]["name"])
check(org["name"] == orgs[0]["name"], "organization_show")
groups = public.action.group_list()
check(set(groups) <= {"open", "default", "specific", "legal"} and "open" in groups, f"groups are sharing modes: {groups}")
tags = public.action.tag_list()
check(len(tags) > 0, "tag_list")

res = public.action.resource_show(id=open_id)
pkg = public.action.package_show(id=res["package_id"])
check(any(r["id"] == open_id for r in pkg["resources"]), "the resource is in its package")
owner = pkg["organization"]["name"]

found = public.action.package_search(
    fq=f"organization:{owner}", rows=100, **{"facet.field": '["organization", "groups", "tags"]', "facet.limit": -1}
)
check(found["count"] >= 1 and all(p["organization"]["name"] == owner for p in found["results"]), "fq organization")
check(found["search_facets"]["organization"]["items"][0]["name"] == owner, "search_facets")

# What ckanext-harvest sends: sort=id asc, paging with start until empty.
start, seen = 0, []
while True:
    page = public.action.package_search(fq="-organization:none-such", rows=10, start=start, sort="id asc")
    if not page["results"]:
        break
    seen += [p["name"] for p in page["results"]]
    start += 10
check(seen == sorted(names), "package_search pages with start/rows in id order")

try:
    public.action.package_search(fq="organization:(unclosed")
    check(False, "a bad fq is refused")
except ckanapi.SearchQueryError:
    checks += 1

try:
    public.action.package_show(id="khong-co-goi-nay")
    check(False, "a missing package is not found")
except ckanapi.NotFound:
    checks += 1

# datastore_search paged to the end through _links.next.
params = {"resource_id": open_id, "limit": 500}
ids, pages, total = set(), 0, None
while True:
    r = public.action.datastore_search(**params)
    total = r["total"]
    for rec in r["records"]:
        check(rec["_id"] not in ids, "no record twice")
        ids.add(rec["_id"])
    pages += 1
    nxt = r.get("_links", {}).get("next")
    if not nxt or not r["records"]:
        break
    params = dict(parse_qsl(urlparse(nxt).query))
check(len(ids) == total, f"paged to the end: {len(ids)} of {total}")
check(pages == -(-total // 500), f"{pages} pages")

# The 2.12 way: merge next_page into filters.
r1 = public.action.datastore_search(resource_id=open_id, limit=100, include_next_page=True)
r2 = public.action.datastore_search(resource_id=open_id, limit=100, filters=r1["next_page"])
check(not ({x["_id"] for x in r1["records"]} & {x["_id"] for x in r2["records"]}), "next_page continues")

try:
    public.action.datastore_search(resource_id=restricted_id)
    check(False, "the public cannot read a restricted resource")
except ckanapi.NotAuthorized:
    checks += 1

try:
    public.action.datastore_upsert(resource_id=open_id, records=[{"ma": "PY-1", "ten": "x"}])
    check(False, "the public cannot write")
except ckanapi.NotAuthorized:
    checks += 1

done = steward.action.datastore_upsert(resource_id=open_id, method="upsert", records=[{"ma": "PY-1", "ten": "Từ ckanapi", "huyen": "Na Hang"}])
check(done["resource_id"] == open_id, "datastore_upsert")
back = public.action.datastore_search(resource_id=open_id, filters={"ma": "PY-1"})
check(back["records"][0]["ten"] == "Từ ckanapi", "the upserted record reads back")

try:
    steward.action.datastore_upsert(resource_id=open_id, method="insert", records=[{"ma": "PY-1", "ten": "again"}])
    check(False, "inserting an existing key is refused")
except ckanapi.ValidationError:
    checks += 1

info = steward.action.datastore_info(id=open_id)
check(info["meta"]["count"] == total + 1, "datastore_info counts the new row")

print(f"ckanapi: all checks passed ({checks})")
