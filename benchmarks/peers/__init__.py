"""outreach-async side by side with its peers, measured in one run on one sandbox (issue 8).

``nox -s bench_peers`` installs tap-outreach 1.2.2 and jsonapi-client 0.9.10 next to this
project and runs ``python -m benchmarks.peers``: each client (ours, a hand-written aiohttp +
json loop, jsonapi-client in async mode, tap-outreach) in its own process against the same
sandbox, per workload: streaming, many pages, an export under a small rate-limit budget and an
export under faults. It prints a markdown table and writes the figures as JSON.
"""
