"""Runs the external SCIM conformance suite (scim2-tester) against a live scimgate.

Usage: conformance.py --url http://127.0.0.1:PORT/scim/v2 --token TOKEN [--min-checks N]

Prints one line per check that did not pass, a count per status and a closing
'N passed, N failed, N skipped' line; exits 1 on any failure or when fewer than
--min-checks checks ran (a discovery document the suite cannot parse makes it run
almost nothing, which must not look like success).
"""

import argparse
import collections
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--min-checks", type=int, default=40)
    args = parser.parse_args()

    http = httpx2.Client(
        base_url=args.url,
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)

    counts = collections.Counter(r.status.name for r in results)
    passed = failed = skipped = 0
    for r in results:
        if r.status in PASSING:
            passed += 1
        elif r.status == Status.SKIPPED:
            skipped += 1
        else:
            failed += 1
            print(
                f"FAIL [{r.status.name}] {r.resource_type or '-'} {r.title}: {r.reason}",
                file=sys.stderr,
            )
    print("scim2-tester statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    ran = passed + failed
    if ran < args.min_checks:
        print(
            f"only {ran} checks ran (expected at least {args.min_checks}): discovery is probably broken",
            file=sys.stderr,
        )
        failed += 1
    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
