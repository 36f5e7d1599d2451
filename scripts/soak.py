"""Soak test on loopback (run by scripts/soak): a steady mixed SCIM load on `scimgate serve`
(release build, the shipped Coder mapping, the Coder emulator in its own process) for a bounded
time, with the gateway's memory sampled after each segment.

Each wrk connection runs an IdP's lifecycle over and over, one request at a time: create a user,
read it, PATCH it, look it up by userName, add it to a shared group, read the group, remove it
from the group, delete it. The platform ends each cycle as it began (the users a segment's end
leaves mid-lifecycle are deleted after it), so memory should stay flat.

Prints, per segment: requests, requests/s, answers that were not the expected status, socket
errors, the gateway's RSS (anonymous and file-backed), the store's size on disk and the slowest
answers (wrk counts one over 2 s as a socket error of kind timeout); then the
growth of RSS over the second half of the run. The first half is the warm-up, which must outlast
the 5 minutes the gateway remembers deleted platform keys (so that a read racing a delete cannot
bring a deleted user back): at 700-1000 requests/s that memory of deletes alone grows for those
5 minutes, then entries expire as fast as they come. Exits non-zero on any unexpected answer or
socket error, or when RSS grew by more than --max-growth percent over the second half. It never
asserts a time.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, http, peak_rss_mb, stop, wait_ready  # noqa: E402

LUA = r"""
local token = "TOKEN"
local group = "GROUP"
local step, counter, id, name = 0, 0, nil, nil
bad = 0
local threads = {}
local h = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"}
local expected = {201, 200, 200, 200, 200, 200, 200, 204}

function setup(thread)
  -- Unique across segments: a segment ends mid-lifecycle, leaving its last user behind.
  thread:set("tag", "SEGMENT-" .. tostring(#threads + 1))
  table.insert(threads, thread)
end

local function patch(ops)
  return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":' .. ops .. '}'
end

function request()
  if step == 0 then
    counter = counter + 1
    name = "soak-" .. tag .. "-" .. counter
    return wrk.format("POST", "/scim/v2/Users", h,
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
      '","name":{"givenName":"Soak","familyName":"Test"},"emails":[{"value":"' .. name ..
      '@example.com","primary":true}],"externalId":"ext-' .. name .. '"}')
  elseif step == 1 then
    return wrk.format("GET", "/scim/v2/Users/" .. id, h)
  elseif step == 2 then
    return wrk.format("PATCH", "/scim/v2/Users/" .. id, h,
      patch('[{"op":"replace","path":"displayName","value":"Soak ' .. counter .. '"}]'))
  elseif step == 3 then
    return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22" .. name .. "%22", h)
  elseif step == 4 then
    return wrk.format("PATCH", "/scim/v2/Groups/" .. group, h,
      patch('[{"op":"add","path":"members","value":[{"value":"' .. id .. '"}]}]'))
  elseif step == 5 then
    return wrk.format("GET", "/scim/v2/Groups/" .. group .. "?excludedAttributes=members", h)
  elseif step == 6 then
    return wrk.format("PATCH", "/scim/v2/Groups/" .. group, h,
      patch('[{"op":"remove","path":"members[value eq \\"' .. id .. '\\"]"}]'))
  else
    return wrk.format("DELETE", "/scim/v2/Users/" .. id, h)
  end
end

function response(status, headers, body)
  if status ~= expected[step + 1] then
    bad = bad + 1
    if bad <= 3 then io.write("unexpected ", status, " at step ", step, ": ", body:sub(1, 200), "\n") end
  end
  if step == 0 then
    id = body:match('"id":"([^"]+)"')
    if not id then return end
  end
  step = (step + 1) % 8
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("BAD %d\n", total))
  io.write(string.format("LATENCY p99.9 %d max %d\n", latency:percentile(99.9), latency.max))
end
"""


def huge_pages_mb(pid):
    """Anonymous memory backed by transparent huge pages (2 MiB each)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=720, help="seconds of load in all")
    ap.add_argument("--segments", type=int, default=24, help="RSS is sampled after each")
    ap.add_argument("--connections", type=int, default=4, help="IdPs at once (one wrk thread each)")
    ap.add_argument("--cache-ttl", type=int, default=30, help="cache.ttl_secs of the gateway (0: no cache)")
    ap.add_argument("--max-growth", type=float, default=10.0,
                    help="percent of RSS growth over the second half that fails the soak")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    release = os.path.join(root, "target", os.environ.get("SCIMGATE_BENCH_PROFILE", "release"))
    work = tempfile.mkdtemp(prefix="scimgate-soak-")
    procs = []
    try:
        emulator = subprocess.Popen([os.path.join(release, "examples", "coder_emulator"), "--users", "10"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(emulator)
        info = json.loads(emulator.stdout.readline())
        shutil.copy(os.path.join(root, "config", "mappings", "coder.toml"), work)
        token = "soak-scim-token-0123456789"
        port = free_port()
        config = os.path.join(work, "soak.toml")
        with open(config, "w") as f:
            f.write(f"""
[server]
listen = "127.0.0.1:{port}"
# Load as fast as the IdPs go: no inbound rate limits.
requests_per_second_per_tenant = 0
requests_per_second_per_token = 0
[[auth.tokens]]
name = "soak"
env = "SOAK_SCIM_TOKEN"
[store]
url = "sqlite://soak.sqlite"
[cache]
ttl_secs = {args.cache_ttl}
[backend]
mapping = "coder.toml"
base_url = "{info['url']}"
credential = {{ env = "SOAK_CODER_TOKEN" }}
[backend.settings]
organization_id = "{info['organization_id']}"
placeholder_email_domain = "no-email.soak.invalid"
""")
        env = dict(os.environ, SOAK_SCIM_TOKEN=token, SOAK_CODER_TOKEN=info["token"], SCIMGATE_LOG="warn")
        # SOAK_WRAPPER (e.g. `heaptrack -o /tmp/soak`) runs the gateway under a profiler.
        wrapper = os.environ.get("SOAK_WRAPPER", "").split()
        # SOAK_STDERR names a file for the gateway's stderr (with MIMALLOC_SHOW_STATS=1, say).
        stderr = open(os.environ["SOAK_STDERR"], "w") if os.environ.get("SOAK_STDERR") else subprocess.DEVNULL
        gateway = subprocess.Popen(wrapper + [os.path.join(release, "scimgate"), "serve", "--config", config], env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        procs.append(gateway)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        wait_ready(f"{base}/scim/v2/ServiceProviderConfig", headers, gateway)
        group = http("POST", f"{base}/scim/v2/Groups",
                     {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Soak team"},
                     headers)["id"]
        seconds = max(1, args.duration // args.segments)
        print(f"scimgate soak: loopback, {os.cpu_count()} cores, {args.connections} IdPs, "
              f"{args.segments} segments of {seconds}s, the lifecycle of one user per 8 requests")
        print(f"{'segment':>7} {'requests':>9} {'req/s':>8} {'unexpected':>10} {'socket errs':>11} {'RSS MB':>8} "
              f"{'anon MB':>8} {'huge MB':>8} {'file MB':>8} {'store MB':>9} {'threads':>7} {'p99.9 ms':>8} {'max ms':>8}")
        samples, failures = [], 0
        for segment in range(1, args.segments + 1):
            script = os.path.join(work, f"soak-{segment}.lua")
            with open(script, "w") as f:
                f.write(LUA.replace("TOKEN", token).replace("GROUP", group).replace("SEGMENT", str(segment)))
            out = subprocess.run(
                ["wrk", f"-t{args.connections}", f"-c{args.connections}", f"-d{seconds}s", "-s", script, base],
                capture_output=True, text=True, check=True).stdout
            requests = int(re.search(r"(\d+) requests in", out).group(1))
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            bad = int(re.search(r"BAD (\d+)", out).group(1))
            # Microseconds. A socket error of kind timeout is a request slower than wrk's 2 s.
            p999_us, max_us = (int(x) for x in re.search(r"LATENCY p99.9 (\d+) max (\d+)", out).groups())
            sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
            socket_errors = sum(int(x) for x in sockets.groups()) if sockets else 0
            if socket_errors:
                print("  " + sockets.group(0))
            for line in out.splitlines():
                if line.startswith("unexpected"):
                    print("  " + line)
            # A segment ends mid-lifecycle: each IdP's last user is left behind, often in the
            # group. Deleted here, so the platform and the group end each segment as they began
            # (left, the group grew by a few members a segment, and with it what the gateway
            # holds for it: the soak measured its own residue).
            # Writes wrk cut off go on in the gateway: a moment for them to end first.
            time.sleep(1)
            query = urllib.parse.urlencode({"filter": f'userName sw "soak-{segment}-"', "count": "100"})
            left = http("GET", f"{base}/scim/v2/Users?{query}", headers=headers)["Resources"]
            for user in left:
                try:
                    http("DELETE", f"{base}/scim/v2/Users/{user['id']}", headers=headers)
                except urllib.error.HTTPError as e:
                    if e.code != 404:  # deleted meanwhile by the IdP's own last DELETE
                        raise
            rss = peak_rss_mb(gateway.pid, "VmRSS")
            samples.append(rss)
            failures += bad + socket_errors
            store = sum(os.path.getsize(os.path.join(work, n)) for n in os.listdir(work)
                        if n.startswith("soak.sqlite")) / 2**20
            print(f"{segment:>7} {requests:>9} {rps:>8.0f} {bad:>10} {socket_errors:>11} {rss:>8.1f} "
                  f"{peak_rss_mb(gateway.pid, 'RssAnon'):>8.1f} {huge_pages_mb(gateway.pid):>8.1f} "
                  f"{peak_rss_mb(gateway.pid, 'RssFile'):>8.1f} "
                  f"{store:>9.1f} {int(peak_rss_mb(gateway.pid, 'Threads') * 1024):>7} "
                  f"{p999_us / 1000:>8.1f} {max_us / 1000:>8.1f}")
        warm = samples[max(0, len(samples) // 2 - 1)]
        growth = (max(samples[len(samples) // 2:]) - warm) / warm * 100 if warm else 0.0
        print(f"RSS at the end of the warm-up (segment {max(1, len(samples) // 2)}) {warm:.1f} MB, "
              f"highest after it {max(samples[len(samples) // 2:]):.1f} MB ({growth:+.1f}%), at the end "
              f"{samples[-1]:.1f} MB, peak {peak_rss_mb(gateway.pid):.1f} MB; unexpected answers and "
              f"socket errors: {failures}")
        if failures or growth > args.max_growth:
            sys.exit("soak: FAILED")
        print("soak: memory flat, no error")
    finally:
        stop(procs, work)


if __name__ == "__main__":
    main()
