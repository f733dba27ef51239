#!/usr/bin/env python3
"""A steady client that measures what one person waits for while chiase is
busy: every 50 ms an audited read of a restricted dataset; every 10th round
also a sign-in (a write of the sign-in attempt and an audit event) and a
write of one record to that dataset. Prints latency percentiles per kind.

    latency_probe.py BASE TOKEN USERNAME PASSWORD (--seconds N | --until-file PATH)
"""
import argparse
import http.client
import json
import os
import time
import urllib.parse


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("token")
    ap.add_argument("username")
    ap.add_argument("password")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--until-file")
    ap.add_argument("--dataset", default="bts-han-che")
    ap.add_argument("--split-at", type=float, help="report the rounds before and after this many seconds apart")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    auth = {"Authorization": f"Bearer {a.token}"}
    times = {"audited read": [], "sign-in": [], "write": []}
    stamps = {k: [] for k in times}
    errors = 0
    start = time.time()
    n = 0
    # Record ids of this run, distinct from any earlier run's.
    first_id = 10_000_000 + int(start * 10) % 1_000_000 * 100

    def call(kind, method, path, body=None, headers=None):
        nonlocal errors
        t = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        r.read()
        times[kind].append((time.perf_counter() - t) * 1000)
        stamps[kind].append(time.time() - start)
        if r.status >= 400:
            errors += 1

    while True:
        if a.seconds is not None and time.time() - start > a.seconds:
            break
        if a.until_file and os.path.exists(a.until_file):
            break
        call("audited read", "GET", f"/api/v1/datasets/{a.dataset}/records?nha_mang=Viettel&limit=100", headers=auth)
        if n % 10 == 0:
            body = json.dumps({"username": a.username, "password": a.password})
            call("sign-in", "POST", "/api/v1/session", body=body, headers={"Content-Type": "application/json"})
            rid = first_id + n
            rec = json.dumps([{"id": rid, "ma_tram": f"TQ-BEN-VTL-{rid % 10_000_000:07d}", "nha_mang": "Viettel", "huyen": "Yên Sơn", "xa": "Xã Tứ Quận",
                               "lat": 21.87, "lon": 105.25, "trang_thai": "Đang hoạt động"}])
            call("write", "POST", f"/api/v1/datasets/{a.dataset}/records", body=rec, headers={**auth, "Content-Type": "application/json"})
        n += 1
        time.sleep(0.05)
    print(f"  {time.time() - start:.1f} s, {errors} errors")
    print("  | phase | request | n | p50 ms | p90 ms | p99 ms | max ms |")
    print("  |---|---|---:|---:|---:|---:|---:|")
    phases = [("all", lambda t: True)]
    if a.split_at is not None:
        phases = [("upload", lambda t: t < a.split_at), ("apply", lambda t: t >= a.split_at), ("all", lambda t: True)]
    for name, keep in phases:
        for kind, xs in times.items():
            ys = [x for x, t in zip(xs, stamps[kind]) if keep(t)]
            if ys:
                print(f"  | {name} | {kind} | {len(ys)} | {pct(ys, 50):.1f} | {pct(ys, 90):.1f} | {pct(ys, 99):.1f} | {max(ys):.1f} |")


if __name__ == "__main__":
    main()
