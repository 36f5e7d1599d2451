"""Side-by-side loopback benchmark of scimgate against a bare proxy hop (run by scripts/bench).

Starts, each in its own process: the Coder emulator (examples/coder_emulator, seeded with
users), a bare hyper pass-through proxy in front of it (examples/passthrough), and `scimgate
serve` with the shipped Coder mapping twice, cache on and cache off. Drives each with wrk
(one run at --concurrency, one at concurrency 1 for latency) over the same reads and writes:

  get     GET one user           (emulator: GET /api/v2/users/{uuid})
  filter  userName eq "..."      (emulator: the list call the mapping pushes the filter down to)
  extid   externalId eq "..."    (emulator: GET /api/v2/users/{uuid}; the link is the gateway's)
  list    a page of 100 users    (emulator: GET /api/v2/users?limit=100)
  patch   one-attribute PATCH    (emulator: PUT /api/v2/users/{uuid}/profile)
  group   GET one group of 10    (emulator: GET /api/v2/groups/{uuid})
  tenant  GET one user at a tenant's URL with a managed token (cache on only)

and prints requests/s, p50 (concurrency 1) and what it adds to the emulator's, p99, CPU
microseconds per request of the process under test, platform calls per request and peak RSS,
with each figure's ratio to the bare proxy's. It prints; it never asserts a time.

Binaries come from target/release (or target/$SCIMGATE_BENCH_PROFILE, e.g. `profiling`).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat (12 and 13 after the command name).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid, field="VmHWM"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/scim+json")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def wait_ready(url, headers, proc):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"bench: {proc.args[0]} exited early")
        try:
            http("GET", url, headers=headers)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"bench: {url} never answered")


def lua(headers, method="GET", bodies=None):
    """A wrk script setting headers and, for writes, alternating bodies."""
    lines = [f'wrk.method = "{method}"']
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    if bodies:
        lines.append("local bodies = {" + ", ".join(json.dumps(json.dumps(b)) for b in bodies) + "}")
        lines.append("local n = 0")
        lines.append("request = function()")
        lines.append("  n = n + 1")
        lines.append("  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])")
        lines.append("end")
    # Non-2xx answers are counted, so a broken scenario shows.
    lines.append("bad = 0")
    lines.append("response = function(status, headers, body) if status >= 300 then bad = bad + 1 end end")
    lines.append('done = function(summary, latency, requests) io.write(string.format("BAD %d\\n", bad)) end')
    return "\n".join(lines) + "\n"


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_latency(text, pct):
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(url, script_path, concurrency, duration):
    threads = max(1, min(2, concurrency))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--latency", "-s", script_path, url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "requests": total,
        "p50": parse_latency(out, 50),
        "p99": parse_latency(out, 99),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


class Target:
    def __init__(self, name, proc, base, headers):
        self.name, self.proc, self.base, self.headers = name, proc, base, headers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5, help="seconds per loaded run")
    ap.add_argument("--latency-duration", type=int, default=3, help="seconds per concurrency-1 run")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--only", default="get,group,filter,extid,list,patch,tenant")
    ap.add_argument("--links", type=int, default=0,
                    help="instead of the scenarios: link this many users (seeded on the emulator) "
                         "through the cache-on gateway, read them, and report its peak RSS")
    ap.add_argument("--hold", action="store_true",
                    help="set everything up, print the targets and wait (to attach a profiler)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    release = os.path.join(root, "target", os.environ.get("SCIMGATE_BENCH_PROFILE", "release"))
    work = tempfile.mkdtemp(prefix="scimgate-bench-")
    procs = []

    def start(cmd, env=None):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        procs.append(p)
        return p

    try:
        seeded = max(args.users, args.links)
        emulator = start([os.path.join(release, "examples", "coder_emulator"), "--users", str(seeded)])
        info = json.loads(emulator.stdout.readline())
        coder_headers = {"Coder-Session-Token": info["token"]}
        proxy = start([os.path.join(release, "examples", "passthrough"), "--upstream", info["url"]])
        proxy_url = proxy.stdout.readline().strip()

        shutil.copy(os.path.join(root, "config", "mappings", "coder.toml"), work)
        token = "bench-scim-token-0123456789"
        admin_token = "bench-admin-token-0123456789"
        env = dict(os.environ, BENCH_SCIM_TOKEN=token, BENCH_ADMIN_TOKEN=admin_token,
                   BENCH_CODER_TOKEN=info["token"], SCIMGATE_LOG="warn")
        gateways = {}
        # Warm reads stay warm for the whole run (a 30 s TTL would turn some rows cold midway).
        for label, ttl in (("cache on", 600), ("cache off", 0)):
            port = free_port()
            name = label.replace(" ", "-")
            config = os.path.join(work, f"{name}.toml")
            backend = f"""
mapping = "coder.toml"
base_url = "{info['url']}"
credential = {{ env = "BENCH_CODER_TOKEN" }}
[BACKEND.settings]
organization_id = "{info['organization_id']}"
placeholder_email_domain = "no-email.bench.invalid"
"""
            with open(config, "w") as f:
                f.write(f"""
[server]
listen = "127.0.0.1:{port}"
# The benchmark measures throughput: no inbound rate limits.
requests_per_second_per_tenant = 0
requests_per_second_per_token = 0
[[auth.tokens]]
name = "bench"
env = "BENCH_SCIM_TOKEN"
[[admin.tokens]]
name = "bench-admin"
env = "BENCH_ADMIN_TOKEN"
[store]
url = "sqlite://{name}.sqlite"
[cache]
ttl_secs = {ttl}
[backend]{backend.replace('BACKEND', 'backend')}
[backends.second]{backend.replace('BACKEND', 'backends.second')}
""")
            p = start([os.path.join(release, "scimgate"), "serve", "--config", config], env=env)
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/scim/v2/ServiceProviderConfig", {"Authorization": f"Bearer {token}"}, p)
            gateways[label] = Target(f"scimgate, {label}", p, base, {"Authorization": f"Bearer {token}"})

        user = "bench-00007"
        coder_user = http("GET", f"{info['url']}/api/v2/users/{user}", headers=coder_headers)
        uuid = coder_user["id"]
        scim_ids = {}
        for label, g in gateways.items():
            found = http("GET", f"{g.base}/scim/v2/Users?filter=userName%20eq%20%22{user}%22", headers=g.headers)
            scim_ids[label] = found["Resources"][0]["id"]
            # Written once through the gateway, as users an IdP provisions are.
            http("PATCH", f"{g.base}/scim/v2/Users/{scim_ids[label]}",
                 {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "externalId", "value": "ext-bench-07"}]},
                 g.headers)
        # A tenant with a managed token (looked up in the store on every request), cache on.
        g = gateways["cache on"]
        admin_headers = {"Authorization": f"Bearer {admin_token}"}
        http("POST", f"{g.base}/admin/v1/tenants", {"id": "bench", "backend": "second"}, admin_headers)
        managed = http("POST", f"{g.base}/admin/v1/tenants/bench/tokens", {"name": "bench"}, admin_headers)["token"]
        tenant_headers = {"Authorization": f"Bearer {managed}"}
        # A group of ten through each gateway (names differ: both front the same platform).
        group_ids, group_uuid = {}, None
        for label, gw in gateways.items():
            members = []
            for i in range(10):
                found = http("GET", f"{gw.base}/scim/v2/Users?filter=userName%20eq%20%22bench-{i:05}%22",
                             headers=gw.headers)
                members.append({"value": found["Resources"][0]["id"]})
            made = http("POST", f"{gw.base}/scim/v2/Groups",
                        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                         "displayName": f"Bench team {label}", "members": members}, gw.headers)
            group_ids[label] = made["id"]
            if group_uuid is None:
                groups = http("GET", f"{info['url']}/api/v2/organizations/{info['organization_id']}/groups",
                              headers=coder_headers)
                group_uuid = next(x["id"] for x in groups if x["display_name"] == made["displayName"])
        tenant_user = http("GET", f"{g.base}/scim/v2/bench/Users?filter=userName%20eq%20%22{user}%22",
                           headers=tenant_headers)["Resources"][0]["id"]
        # Written once through the tenant, as the default tenant's user was: the same read.
        http("PATCH", f"{g.base}/scim/v2/bench/Users/{tenant_user}",
             {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "externalId", "value": "ext-bench-07"}]},
             tenant_headers)

        if args.links:
            link_all(gateways["cache on"], args, work, info)
            return
        if args.hold:
            for label, g in gateways.items():
                print(f"{g.name}: pid {g.proc.pid}  {g.base}/scim/v2/Users/{scim_ids[label]}  "
                      f"Authorization: Bearer {token}")
            print(f"emulator {info['url']}/api/v2/users/{uuid}  Coder-Session-Token: {info['token']}")
            print(f"bare proxy: pid {proxy.pid}  {proxy_url}")
            sys.stdout.flush()
            signal.sigwait([signal.SIGINT, signal.SIGTERM])
            return
        names = [f"Bench User 07 {c}" for c in "ab"]
        scenarios = {
            "get": {
                "platform": ("GET", f"/api/v2/users/{uuid}", None),
                "scim": ("GET", "/scim/v2/Users/{id}", None),
            },
            "group": {
                "platform": ("GET", f"/api/v2/groups/{group_uuid}", None),
                "scim": ("GET", "/scim/v2/Groups/{group}", None),
            },
            "filter": {
                "platform": ("GET", f"/api/v2/users?q={user}&limit=100&offset=0", None),
                "scim": ("GET", f"/scim/v2/Users?filter=userName%20eq%20%22{user}%22", None),
            },
            "extid": {
                "platform": ("GET", f"/api/v2/users/{uuid}", None),
                "scim": ("GET", "/scim/v2/Users?filter=externalId%20eq%20%22ext-bench-07%22", None),
            },
            "list": {
                "platform": ("GET", "/api/v2/users?limit=100&offset=0", None),
                "scim": ("GET", "/scim/v2/Users?startIndex=1&count=100", None),
            },
            "patch": {
                "platform": ("PUT", f"/api/v2/users/{uuid}/profile",
                             [{"username": user, "name": n} for n in names]),
                "scim": ("PATCH", "/scim/v2/Users/{id}",
                         [{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "path": "displayName", "value": n}]} for n in names]),
            },
        }
        targets = [
            ("Coder emulator", emulator, info["url"], coder_headers, "platform", None),
            ("bare proxy", proxy, proxy_url, coder_headers, "platform", None),
        ] + [(g.name, g.proc, g.base, g.headers, "scim", label) for label, g in gateways.items()]

        cores = os.cpu_count()
        print(f"scimgate benchmark: loopback, {cores} cores, wrk -c{args.concurrency} for {args.duration}s "
              f"and -c1 for {args.latency_duration}s per row, {args.users} users on the emulated Coder")
        header = (f"{'scenario':<8} {'target':<22} {'req/s':>9} {'x proxy':>8} {'p50 c1':>9} {'+p50':>7} {'p99':>9} "
                  f"{'CPU us/req':>10} {'x proxy':>8} {'calls/req':>9} {'non-2xx':>7}")
        results = {}
        only = args.only.split(",")
        for scenario in [s for s in ("get", "group", "filter", "extid", "list", "patch") if s in only]:
            print()
            print(header)
            for (tname, proc, base, headers, kind, label) in targets:
                method, path, bodies = scenarios[scenario][kind]
                if label:
                    path = path.replace("{id}", scim_ids[label]).replace("{group}", group_ids[label])
                hdrs = dict(headers)
                if bodies:
                    hdrs["Content-Type"] = "application/scim+json" if kind == "scim" else "application/json"
                row = run_row(work, f"{scenario}-{tname}", base + path, hdrs, method, bodies, proc, info,
                              args)
                results[(scenario, tname)] = row
                print_row(scenario, tname, row, results.get((scenario, "bare proxy")),
                          results.get((scenario, "Coder emulator")))
        if "tenant" in only:
            print()
            print(header)
            row = run_row(work, "tenant", f"{g.base}/scim/v2/bench/Users/{tenant_user}", tenant_headers,
                          "GET", None, g.proc, info, args)
            print_row("get", "tenant, managed token", row, results.get(("get", "bare proxy")),
                      results.get(("get", "Coder emulator")))
            config_row = results.get(("get", "scimgate, cache on"))
            if config_row:
                print(f"{'':<8} managed token / config token: req/s x{row['rps'] / config_row['rps']:.2f}")
        print()
        for name, proc in [("bare proxy", proxy)] + [(g.name, g.proc) for g in gateways.values()]:
            print(f"peak RSS {name:<22} {peak_rss_mb(proc.pid):7.1f} MB")
    finally:
        stop(procs, work)


def stop(procs, work, timeout=10):
    """Ends the processes a run started (SIGTERM, then SIGKILL after `timeout` seconds) and
    removes its work directory."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(work, ignore_errors=True)


def link_all(g, args, work, info):
    """Lists every user through the gateway (linking each), then reads them by id at random for
    a while; prints the time taken and the gateway's peak RSS."""
    print(f"before linking (after the setup's reads): peak RSS {peak_rss_mb(g.proc.pid):.1f} MB")
    started = time.time()
    ids, start = [], 1
    while True:
        page = http("GET", f"{g.base}/scim/v2/Users?startIndex={start}&count=100", headers=g.headers)
        ids += [r["id"] for r in page["Resources"]]
        start += len(page["Resources"])
        if not page["Resources"] or start > page["totalResults"]:
            break
    listed = time.time() - started
    print(f"linked {len(ids)} users through {g.name} in {listed:.1f}s "
          f"(pages of 100); peak RSS {peak_rss_mb(g.proc.pid):.1f} MB, "
          f"RSS now {peak_rss_mb(g.proc.pid, 'VmRSS'):.1f} MB")
    script = os.path.join(work, "links.lua")
    with open(script, "w") as f:
        f.write(lua(g.headers))
        f.write("local ids = {" + ",".join(json.dumps(i) for i in ids) + "}\n")
        f.write("request = function() return wrk.format(nil, '/scim/v2/Users/' .. ids[math.random(#ids)]) end\n")
    row = run_row(work, "links", g.base, g.headers, "GET", None, g.proc, info, args, script=script)
    print(f"GET by id over all {len(ids)}: {row['rps']:.0f} req/s, p99 {row['p99']:.3f}ms, "
          f"{row['calls']:.2f} platform calls/req, {row['errors']} non-2xx; "
          f"peak RSS {peak_rss_mb(g.proc.pid):.1f} MB")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stats(info):
    with urllib.request.urlopen(info["stats_url"], timeout=5) as r:
        return int(r.read())


def run_row(work, name, url, headers, method, bodies, proc, info, args, script=None):
    if script is None:
        script = os.path.join(work, re.sub(r"[^a-z0-9]+", "-", name.lower()) + ".lua")
        with open(script, "w") as f:
            f.write(lua(headers, method, bodies))
    # One untimed second first: rows measure the steady state, not the first sightings (a
    # list's first page links users the gateway has not seen, and 16 such lists at once
    # write the same links).
    wrk(url, script, args.concurrency, 1)
    cpu0, calls0 = cpu_seconds(proc.pid), stats(info)
    loaded = wrk(url, script, args.concurrency, args.duration)
    cpu1, calls1 = cpu_seconds(proc.pid), stats(info)
    single = wrk(url, script, 1, args.latency_duration)
    n = max(loaded["requests"], 1)
    return {
        "rps": loaded["rps"],
        "p50": single["p50"],
        "p99": loaded["p99"],
        "cpu_us": (cpu1 - cpu0) / n * 1e6,
        "calls": (calls1 - calls0) / n,
        "errors": loaded["errors"] + single["errors"],
    }


def print_row(scenario, target, row, proxy, emulator):
    """One target's figures; `+p50` is what it adds to the emulator's own p50, in microseconds."""
    ratio = lambda a, b: f"x{a / b:.2f}" if proxy and b else "-"
    added = f"{(row['p50'] - emulator['p50']) * 1000:>5.0f}us" if emulator else "-"
    print(f"{scenario:<8} {target:<22} {row['rps']:>9.0f} {ratio(row['rps'], proxy['rps'] if proxy else 0):>8} "
          f"{row['p50']:>7.3f}ms {added:>7} {row['p99']:>7.3f}ms {row['cpu_us']:>10.1f} "
          f"{ratio(row['cpu_us'], proxy['cpu_us'] if proxy else 0):>8} {row['calls']:>9.2f} {row['errors']:>7}")


if __name__ == "__main__":
    main()
