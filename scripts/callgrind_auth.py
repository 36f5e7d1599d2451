"""Instructions per request of a warm user read with a config token against a tenant's managed
token, counted by callgrind (deterministic, whatever else the machine does), and the functions
that make the difference. Usage, after `cargo build --release --bin scimgate --example
coder_emulator`:

    python3 scripts/callgrind_auth.py [--requests 500]

Starts the Coder emulator and `scimgate serve` (cache on) under valgrind's callgrind with
instrumentation off, makes a tenant and a managed token through the admin API, reads one user
a few times through each URL to warm the caches, then counts `--requests` sequential reads with
the config token (`/scim/v2/Users/{id}`) and as many with the managed token
(`/scim/v2/<tenant>/Users/{id}`), each in its own dump. Prints; never asserts.
"""

import argparse
import glob
import http.client as httpclient
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, http, stop  # noqa: E402


def counts(dump):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", dump], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if m:
            found[m.group(2)] = found.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=500)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    release = os.path.join(root, "target", "release")
    work = tempfile.mkdtemp(prefix="scimgate-callgrind-")
    procs = []
    try:
        emulator = subprocess.Popen([os.path.join(release, "examples", "coder_emulator"), "--users", "50"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(emulator)
        info = json.loads(emulator.stdout.readline())
        shutil.copy(os.path.join(root, "config", "mappings", "coder.toml"), work)
        port = free_port()

        def backend(table):
            return (f'\n[{table}]\nmapping = "coder.toml"\nbase_url = "{info["url"]}"\n'
                    f'credential = {{ env = "CG_CODER" }}\n[{table}.settings]\n'
                    f'organization_id = "{info["organization_id"]}"\n'
                    f'placeholder_email_domain = "no-email.bench.invalid"\n')
        with open(os.path.join(work, "g.toml"), "w") as f:
            f.write(f'[server]\nlisten = "127.0.0.1:{port}"\nrequests_per_second_per_tenant = 0\n'
                    f'requests_per_second_per_token = 0\n[[auth.tokens]]\nname = "bench"\nenv = "CG_SCIM"\n'
                    f'[[admin.tokens]]\nname = "adm"\nenv = "CG_ADMIN"\n[store]\nurl = "sqlite://g.sqlite"\n'
                    f'[cache]\nttl_secs = 600\n{backend("backend")}{backend("backends.second")}')
        scim_token, admin_token = "bench-scim-token-0123456789", "bench-admin-token-0123456789"
        env = dict(os.environ, CG_SCIM=scim_token, CG_ADMIN=admin_token, CG_CODER=info["token"], SCIMGATE_LOG="warn")
        gateway = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/cg.%p", "--instr-atstart=no",
             os.path.join(release, "scimgate"), "serve", "--config", os.path.join(work, "g.toml")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        base = f"http://127.0.0.1:{port}"
        config_headers = {"Authorization": f"Bearer {scim_token}"}
        for _ in range(600):
            try:
                http("GET", f"{base}/scim/v2/ServiceProviderConfig", headers=config_headers)
                break
            except Exception:
                time.sleep(0.2)
        admin = {"Authorization": f"Bearer {admin_token}"}
        http("POST", f"{base}/admin/v1/tenants", {"id": "bench", "backend": "second"}, admin)
        managed = http("POST", f"{base}/admin/v1/tenants/bench/tokens", {"name": "b"}, admin)["token"]
        tenant_headers = {"Authorization": f"Bearer {managed}"}
        lookup = "Users?filter=userName%20eq%20%22bench-00007%22"
        config_user = http("GET", f"{base}/scim/v2/{lookup}", headers=config_headers)["Resources"][0]["id"]
        tenant_user = http("GET", f"{base}/scim/v2/bench/{lookup}", headers=tenant_headers)["Resources"][0]["id"]

        def read(path, headers, n):
            conn = httpclient.HTTPConnection("127.0.0.1", port)
            for _ in range(n):
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                answer.read()
                assert answer.status == 200, answer.status
            conn.close()

        rows = (("config token", f"/scim/v2/Users/{config_user}", config_headers),
                ("managed token", f"/scim/v2/bench/Users/{tenant_user}", tenant_headers))
        for _, path, headers in rows:
            read(path, headers, 20)
        for n, (label, path, headers) in enumerate(rows, 1):
            subprocess.run(["callgrind_control", "-i", "on", str(gateway.pid)], capture_output=True, check=True)
            read(path, headers, args.requests)
            subprocess.run(["callgrind_control", "-d", label.replace(" ", "-"), str(gateway.pid)],
                           capture_output=True, check=True)
            subprocess.run(["callgrind_control", "-i", "off", str(gateway.pid)], capture_output=True, check=True)
            subprocess.run(["callgrind_control", "-z", str(gateway.pid)], capture_output=True, check=True)
        dumps = [counts(sorted(glob.glob(f"{work}/cg.*.{n}"))[0]) for n in (1, 2)]
        per = [d.get("PROGRAM TOTALS", 0) / args.requests for d in dumps]
        print(f"instructions per warm GET /Users/{{id}} ({args.requests} each, callgrind):")
        print(f"  config token  {per[0]:>10,.0f}")
        print(f"  managed token {per[1]:>10,.0f}  ({per[1] - per[0]:+,.0f}, x{per[1] / per[0]:.3f})")
        keys = (set(dumps[0]) | set(dumps[1])) - {"PROGRAM TOTALS"}
        diff = sorted(((dumps[1].get(k, 0) - dumps[0].get(k, 0)) / args.requests, k) for k in keys)
        print("functions adding the most to a managed-token request (instructions per request):")
        for value, name in diff[-8:][::-1]:
            print(f"  {value:>8,.0f}  {name[:110]}")
    finally:
        # valgrind takes a while to write its last dump.
        stop(procs, work, timeout=60)


if __name__ == "__main__":
    main()
