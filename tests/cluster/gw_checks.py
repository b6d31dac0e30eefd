#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""quorate-gw checks through Python's http.client (tests/cluster/test_gw.sh
runs them against a real 3-node cluster). Usage: gw_checks.py PHASE PORT
[args]; exit 0 when every check of the phase passed, else 1 with the
failures listed. Phases:
  contract   every status code and header of docs/http.md that a healthy
             cluster gives, If-Match CAS, malformed requests change nothing,
             /metrics parsed by prometheus_client's text parser
  race       username registration: CLIENTS threads POST the same KEYS
             names at once; exactly one 201 per name, the others 409
  split      (every node alone) QUORUM writes: 503 + Retry-After, outcome
             unknown; a ONE read is still served (stale but available)
  cutoff     (the host cut from every node) 504 on the deadline, /ready
             503, and 429 + Retry-After from a gateway at PORT2 whose
             --max-inflight is 2
  ryw        (node 2's links delayed) a session writes at QUORUM and
             reads at ONE through random coordinators with X-Min-Version:
             every read returns its last write; some were served by node 2
"""
import http.client
import json
import socket
import sys
import threading
import time

FAILS = []
HLC_SHIFT = 16  # HLC = wall ms << 16 | logical


def check(what, ok, detail=""):
    if ok:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what} {detail}")
        FAILS.append(what)


class Gw:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def req(self, method, path, body=None, headers=None):
        """(status, {lower-case header: value}, body bytes); keep-alive."""
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body,
                                  headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                return r.status, hdrs, data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def version_of(h, name="etag"):
    v = h.get(name, "").strip('"')
    hlc, _, node = v.partition(".")
    return (int(hlc), int(node)) if hlc.isdigit() and node.isdigit() else None


def metric(port, name, labels=None):
    from prometheus_client.parser import text_string_to_metric_families
    st, _, body = Gw(port).req("GET", "/metrics")
    total = 0.0
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v
                                      for k, v in (labels or {}).items()):
                total += s.value
    return total


def contract_basic(g):
    st, h, _ = g.req("PUT", "/v1/kv/doc", b"v1")
    check("PUT: 204", st == 204, st)
    v1 = version_of(h)
    check("PUT: ETag is the version, = X-Write-Version",
          v1 and h.get("x-write-version") == "%d.%d" % v1, h)
    check("PUT: X-Quorate-Node and X-Replicas answered/RF",
          h.get("x-quorate-node", "").isdigit()
          and h.get("x-replicas", "").endswith("/3"), h)
    check("PUT: X-Min-Version is the session token (the HLC)",
          h.get("x-min-version") == str(v1[0]), h)
    st, h, body = g.req("GET", "/v1/kv/doc")
    check("GET: 200 and the value", st == 200 and body == b"v1", (st, body))
    check("GET: X-Data-Version and ETag = the version written",
          version_of(h) == v1 and h.get("x-data-version") == "%d.%d" % v1, h)
    check("GET: X-Replication-Lag-Ms", h.get("x-replication-lag-ms",
                                             "").isdigit(), h)
    st, h, body = g.req("HEAD", "/v1/kv/doc")
    check("HEAD: 200, ETag, no body", st == 200 and version_of(h) == v1
          and body == b"", (st, h))
    st, h, body = g.req("GET", "/v1/kv/doc",
                        headers={"If-None-Match": '"%d.%d"' % v1})
    check("GET If-None-Match current ETag: 304, no body",
          st == 304 and body == b"" and version_of(h) == v1, (st, h))
    st, _, _ = g.req("GET", "/v1/kv/doc",
                     headers={"If-None-Match": '"1.0", "2.1"'})
    check("GET If-None-Match other ETags: 200", st == 200, st)
    for level in ("one", "quorum", "all", "r=1", "r=3", "linearizable"):
        st, h, body = g.req("GET", "/v1/kv/doc",
                            headers={"X-Consistency": level})
        check(f"GET X-Consistency {level}: 200 v1",
              st == 200 and body == b"v1", (st, body))
    for level in ("one", "all", "any", "w=1", "w=3", "w=2"):
        st, h, _ = g.req("PUT", "/v1/kv/lv-" + level.replace("=", ""),
                         b"x", headers={"X-Consistency": level})
        check(f"PUT X-Consistency {level}: 204", st == 204, st)
    return v1


def contract_cas(g, v1):
    st, h, _ = g.req("PUT", "/v1/kv/doc", b"v2",
                     headers={"If-Match": '"%d.%d"' % v1})
    v2 = version_of(h)
    check("PUT If-Match current version: 204, new version",
          st == 204 and v2 and v2 != v1, (st, h))
    st, h, body = g.req("PUT", "/v1/kv/doc", b"v3",
                        headers={"If-Match": '"%d.%d"' % v1})
    cur = version_of(h)
    check("PUT If-Match stale version: 412 with the current version",
          st == 412 and cur is not None and cur != v1, (st, h, body))
    err = json.loads(body)
    check("412: JSON error body", err.get("error") == "PRECONDITION_FAILED"
          and err.get("version") == "%d.%d" % cur, body)
    st, _, body = g.req("GET", "/v1/kv/doc",
                        headers={"X-Consistency": "linearizable"})
    check("the stale CAS changed nothing (v2)", body == b"v2", body)
    st, h, _ = g.req("PUT", "/v1/kv/doc", b"v4",
                     headers={"If-None-Match": "*"})
    check("PUT If-None-Match * on an existing key: 412", st == 412, st)
    st, h, _ = g.req("PUT", "/v1/kv/fresh", b"f",
                     headers={"If-None-Match": "*"})
    check("PUT If-None-Match * on a new key: 201", st == 201, st)
    st, h, _ = g.req("POST", "/v1/kv/user-alice", b"alice")
    check("POST new name: 201 Created, Location",
          st == 201 and h.get("location") == "/v1/kv/user-alice", (st, h))
    first = version_of(h)
    st, h, body = g.req("POST", "/v1/kv/user-alice", b"mallory")
    check("POST taken name: 409 with the current version",
          st == 409 and version_of(h) == first, (st, h, body))
    st, h, _ = g.req("GET", "/v1/kv/doc",
                     headers={"X-Consistency": "linearizable"})
    cur = version_of(h)
    st, h, _ = g.req("DELETE", "/v1/kv/doc",
                     headers={"If-Match": '"1.0"'})
    check("DELETE If-Match stale: 412", st == 412, st)
    st, h, _ = g.req("DELETE", "/v1/kv/doc",
                     headers={"If-Match": '"%d.%d"' % cur})
    check("DELETE If-Match current: 204", st == 204, st)
    st, h, body = g.req("GET", "/v1/kv/doc")
    check("GET deleted: 404 with the tombstone's version",
          st == 404 and version_of(h) is not None
          and json.loads(body)["error"] == "NOT_FOUND", (st, h, body))
    st, h, _ = g.req("DELETE", "/v1/kv/fresh")
    check("DELETE: 204 and X-Write-Version",
          st == 204 and "x-write-version" in h, (st, h))


def contract_stale(g):
    st, h, _ = g.req("PUT", "/v1/kv/tok", b"t")
    future = ((int(time.time() * 1000) + 20000) << HLC_SHIFT)
    st, h, body = g.req("GET", "/v1/kv/tok", headers={
        "X-Consistency": "one", "X-Min-Version": str(future),
        "X-Stale-Policy": "error", "X-Deadline-Ms": "500"})
    check("GET X-Min-Version ahead of every replica, X-Stale-Policy "
          "error: 412 STALE", st == 412 and json.loads(body)["error"]
          in ("STALE", "CLOCK_AHEAD"), (st, body))
    st, h, body = g.req("GET", "/v1/kv/tok", headers={
        "X-Min-Version": "1",
        "X-Stale-Policy": "quorum"})
    check("GET with an old token and X-Stale-Policy quorum: 200",
          st == 200 and body == b"t", (st, body))


MALFORMED = [
    # (what, method, path, body, headers, expected status)
    ("bad X-Consistency", "PUT", "/v1/kv/keep", b"bad", {"X-Consistency": "most"}, 400),
    ("r=0", "PUT", "/v1/kv/keep", b"bad", {"X-Consistency": "r=0"}, 400),
    ("bad X-Min-Version", "GET", "/v1/kv/keep", None, {"X-Min-Version": "abc"}, 400),
    ("bad X-Stale-Policy", "GET", "/v1/kv/keep", None, {"X-Stale-Policy": "maybe"}, 400),
    ("X-Deadline-Ms 0", "PUT", "/v1/kv/keep", b"bad", {"X-Deadline-Ms": "0"}, 400),
    ("X-Deadline-Ms huge", "PUT", "/v1/kv/keep", b"bad", {"X-Deadline-Ms": "99999999999999999999999"}, 400),
    ("If-Match not an ETag", "PUT", "/v1/kv/keep", b"bad", {"If-Match": "12"}, 400),
    ("weak If-Match", "PUT", "/v1/kv/keep", b"bad", {"If-Match": 'W/"1.0"'}, 400),
    ("If-None-Match with an ETag on PUT", "PUT", "/v1/kv/keep", b"bad", {"If-None-Match": '"1.0"'}, 400),
    ("If-Match and If-None-Match", "PUT", "/v1/kv/keep", b"bad", {"If-Match": '"1.0"', "If-None-Match": "*"}, 400),
    ("CAS at ONE", "PUT", "/v1/kv/keep", b"bad", {"If-Match": '"1.0"', "X-Consistency": "one"}, 400),
    ("linearizable PUT", "PUT", "/v1/kv/keep", b"bad", {"X-Consistency": "linearizable"}, 400),
    ("empty key", "PUT", "/v1/kv/", b"bad", {}, 400),
    ("bad escape", "PUT", "/v1/kv/ke%zzep", b"bad", {}, 400),
    ("cut escape", "PUT", "/v1/kv/keep%4", b"bad", {}, 400),
    ("key of 256 bytes", "PUT", "/v1/kv/" + "k" * 256, b"bad", {}, 414),
    ("escaped key of 256 bytes", "PUT", "/v1/kv/" + "%41" * 256, b"bad", {}, 414),
    ("body of 1 MiB + 1", "PUT", "/v1/kv/keep", b"x" * ((1 << 20) + 1), {},
     413),
    ("body of 9 MiB", "PUT", "/v1/kv/keep", b"x" * (9 << 20), {}, 413),
    ("PATCH", "PATCH", "/v1/kv/keep", b"bad", {}, 405),
    ("no such path", "GET", "/v2/kv/keep", None, {}, 404),
    ("POST /metrics", "POST", "/metrics", b"x", {}, 405),
]


def refused_early(port, method, path, length):
    """A body too large for the gateway: send the headers and a first
    kilobyte only, and read the answer. The gateway refuses on
    Content-Length and may close before the rest is sent, so a client
    that pushes the whole body can meet a broken pipe instead of the
    413 (which is what made this flaky with http.client)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
               f"Content-Length: {length}\r\n\r\n").encode() +
              b"x" * 1024)
    raw = b""
    try:
        while b"\r\n\r\n" not in raw or not complete(raw):
            got = s.recv(65536)
            if not got:
                break
            raw += got
    except (ConnectionError, socket.timeout):
        pass
    s.close()
    head, _, data = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        return 0, raw
    return status, data


def complete(raw):
    """The response's body is all there (Content-Length)."""
    head, _, data = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(data) >= int(line.split(b":")[1])
    return False


def contract_malformed(port):
    g = Gw(port)
    st, h, _ = g.req("PUT", "/v1/kv/keep", b"good")
    before = version_of(h)
    sent0 = metric(port, "quorate_gw_backend_requests_total")
    for what, m, path, body, hdrs, want in MALFORMED:
        if body is not None and len(body) > 65536:
            st, data = refused_early(port, m, path, len(body))
        else:
            st, h, data = Gw(port).req(m, path, body, hdrs)
        ok = st == want
        if ok and want != 405 and data:
            ok = json.loads(data).get("status") == want
        check(f"malformed ({what}): {want}", ok, (st, data[:200]))
    # A chunked body over the limit (no Content-Length to refuse early):
    # 17 chunks of 64 KiB, 1 MiB + 64 KiB.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest("PUT", "/v1/kv/keep")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for _ in range(17):
        c.send(b"10000\r\n" + b"y" * 65536 + b"\r\n")
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    check("malformed (chunked body of 1 MiB + 64 KiB): 413", r.status == 413,
          r.status)
    # Headers larger than the connection's memory (16 KiB): 431 / 400.
    st, _, _ = Gw(port).req("GET", "/v1/kv/keep",
                            headers={"X-Big": "b" * 20000})
    check("malformed (a 20 KB header): 431", st == 431, st)
    sent1 = metric(port, "quorate_gw_backend_requests_total")
    check("malformed requests never reached the cluster",
          sent1 == sent0 + 0, (sent0, sent1))
    st, h, body = g.req("GET", "/v1/kv/keep",
                        headers={"X-Consistency": "all"})
    check("malformed requests changed nothing (value and version)",
          st == 200 and body == b"good" and version_of(h) == before,
          (st, body, h))


def contract_metrics(port):
    from prometheus_client.parser import text_string_to_metric_families
    st, h, body = Gw(port).req("GET", "/metrics")
    check("/metrics: 200 text/plain version=0.0.4", st == 200 and
          "version=0.0.4" in h.get("content-type", ""), h)
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    check("/metrics parses, has the request counter and histogram",
          "quorate_gw_requests" in fams
          and fams["quorate_gw_request_duration_seconds"].type
          == "histogram", sorted(fams))
    codes = {s.labels["code"] for s in fams["quorate_gw_requests"].samples
             if s.name == "quorate_gw_requests_total"}
    check("/metrics counts by status code (201, 204, 304, 404, 409, 412)",
          {"201", "204", "304", "404", "409", "412"} <= codes, codes)
    buckets = [s for s in fams["quorate_gw_request_duration_seconds"]
               .samples if s.name.endswith("_bucket")
               and s.labels["method"] == "PUT"]
    check("/metrics latency buckets are cumulative",
          all(a.value <= b.value for a, b in zip(buckets, buckets[1:]))
          and buckets[-1].labels["le"] == "+Inf", len(buckets))
    st, h, body = Gw(port).req("GET", "/ready")
    check("/ready: 200", st == 200 and json.loads(body)["ready"], (st, body))
    st, h, body = Gw(port).req("GET", "/v1/status/replication")
    j = json.loads(body)
    check("/v1/status/replication: every node, peers with lag",
          len(j["nodes"]) == 3 and all(n["reachable"] and len(n["peers"])
                                       == 2 for n in j["nodes"]), body[:300])


def phase_contract(port):
    g = Gw(port)
    v1 = contract_basic(g)
    if v1:
        contract_cas(g, v1)
    contract_stale(g)
    contract_malformed(port)
    contract_metrics(port)


def phase_race(port, clients=8, keys=5):
    results = {}
    barrier = threading.Barrier(clients)

    def racer(i):
        g = Gw(port)
        barrier.wait()
        for k in range(keys):
            st, h, _ = g.req("POST", f"/v1/kv/race-user-{k}",
                             f"client-{i}".encode(),
                             headers={"X-Deadline-Ms": "3000"})
            if st in (503, 504):  # outcome unknown: ask who holds it
                _, _, body = g.req("GET", f"/v1/kv/race-user-{k}",
                                   headers={"X-Consistency":
                                            "linearizable"})
                st = 201 if body == f"client-{i}".encode() else 409
            results[(i, k)] = st
    ts = [threading.Thread(target=racer, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    g = Gw(port)
    for k in range(keys):
        codes = [results.get((i, k)) for i in range(clients)]
        _, _, body = g.req("GET", f"/v1/kv/race-user-{k}",
                           headers={"X-Consistency": "linearizable"})
        winner = int(body.decode().split("-")[1]) if body else -1
        check(f"race-user-{k}: exactly one 201, the rest 409, the winner "
              f"is the one stored", codes.count(201) == 1
              and codes.count(409) == clients - 1
              and codes[winner] == 201, (codes, body))


def phase_split(port):
    g = Gw(port)
    got = []
    for i in range(6):
        st, h, body = g.req("PUT", f"/v1/kv/split-{i}", b"x",
                            headers={"X-Deadline-Ms": "800"})
        got.append((st, h.get("retry-after"), body))
    u = [x for x in got if x[0] == 503]
    check("partitioned: QUORUM writes answer 503", len(u) == len(got),
          [x[0] for x in got])
    check("503 has Retry-After", all(x[1] == "1" for x in u))
    check("503 body: UNAVAILABLE, the write's outcome is unknown",
          all(json.loads(x[2])["error"] == "UNAVAILABLE"
              and json.loads(x[2])["outcome"] == "unknown"
              and "unknown" in json.loads(x[2])["message"] for x in u))
    st, h, body = g.req("GET", "/v1/kv/keep",
                        headers={"X-Consistency": "one"})
    check("partitioned: a ONE read is still served, with its version",
          st == 200 and body == b"good" and "x-data-version" in h, (st, h))


def phase_cutoff(port, port2):
    g = Gw(port)
    t0 = time.monotonic()
    st, h, body = g.req("PUT", "/v1/kv/cut", b"x",
                        headers={"X-Deadline-Ms": "400"})
    dt = time.monotonic() - t0
    check("no node reachable: 504 after the deadline, outcome unknown",
          st == 504 and json.loads(body)["outcome"] == "unknown"
          and 0.3 < dt < 3, (st, body, dt))
    st, h, body = g.req("GET", "/ready")
    check("no node reachable: /ready 503 + Retry-After",
          st == 503 and h.get("retry-after") == "1", (st, body))
    out = []

    def one():
        out.append(Gw(port2).req("GET", "/v1/kv/cut",
                                 headers={"X-Deadline-Ms": "1500"}))
    ts = [threading.Thread(target=one) for _ in range(6)]
    for t in ts:
        t.start()
        time.sleep(0.05)
    for t in ts:
        t.join()
    busy = [x for x in out if x[0] == 429]
    check("over --max-inflight: 429 + Retry-After (2 in flight, 4 refused)",
          len(busy) == 4 and all(x[1].get("retry-after") == "1"
                                 for x in busy), [x[0] for x in out])


def phase_ryw(port, seconds=4.0):
    g = Gw(port)
    token, n, via2, bad, stale_plain = "1", 0, 0, [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
        val = f"w{n}".encode()
        st, h, _ = g.req("PUT", "/v1/kv/session-k", val,
                         headers={"X-Min-Version": token})
        if st != 204:
            bad.append(("put", st))
            continue
        token = h["x-min-version"]
        st, h, body = g.req("GET", "/v1/kv/session-k", headers={
            "X-Consistency": "one", "X-Min-Version": token,
            "X-Deadline-Ms": "2000"})
        if st != 200 or body != val:
            bad.append((st, body, val))
        if h.get("x-quorate-node") == "2":
            via2 += 1
        token = h.get("x-min-version", token)
        st, h, body = g.req("GET", "/v1/kv/session-k",
                            headers={"X-Consistency": "one"})
        stale_plain += st == 200 and body != val
    print(f"ryw: {n} write+read pairs, {via2} reads via node 2, "
          f"{stale_plain} stale reads WITHOUT the token")
    check("read-your-writes: every read with X-Min-Version saw its write",
          not bad and n > 3, bad[:5])
    check("some token reads were served by the slowed node 2", via2 > 0)


def main():
    phase, port = sys.argv[1], int(sys.argv[2])
    if phase == "contract":
        phase_contract(port)
    elif phase == "race":
        phase_race(port)
    elif phase == "split":
        phase_split(port)
    elif phase == "cutoff":
        phase_cutoff(port, int(sys.argv[3]))
    elif phase == "ryw":
        phase_ryw(port)
    else:
        sys.exit(f"unknown phase {phase}")
    if FAILS:
        print(f"gw_checks {phase}: {len(FAILS)} check(s) failed")
        sys.exit(1)
    print(f"gw_checks {phase}: all passed")


if __name__ == "__main__":
    main()
