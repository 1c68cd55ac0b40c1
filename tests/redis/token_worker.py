"""A worker process sharing one org's OAuth tokens through :class:`RedisTokenStore`.

python -m tests.redis.token_worker serve REDIS_URL TENANT BASE_URL TOKEN_URL
    prints "ready", then for each "go" line on stdin lists the prospects and prints how many
    (a 401 makes it refresh through the shared store); ends at end of input.
python -m tests.redis.token_worker hold REDIS_URL TENANT
    takes the tenant's renewal lock, prints "held" and waits to be killed (SIGKILL).
"""

from __future__ import annotations

import asyncio
import sys
import time

from outreach_async import OAuth2Refresh, OutreachClient, RedisTokenStore

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def serve(redis_url: str, tenant: str, base_url: str, token_url: str) -> None:
    offset = [0.0]  # the fleet's clocks agree (NTP): here, with the sandbox's moved clock

    def clock() -> float:
        return time.time() + offset[0]

    store = RedisTokenStore(redis_url, tenant, clock=clock)
    provider = await OAuth2Refresh.from_store(
        store, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_url=token_url, clock=clock
    )
    async with OutreachClient(provider, base_url=base_url) as outreach:
        print("ready", flush=True)
        while (line := (await read_line()).split()) and line[0] == "go":
            offset[0] = float(line[1]) - time.time()
            print(len(await outreach.prospects.list().collect()), flush=True)


async def hold(redis_url: str, tenant: str) -> None:
    async with RedisTokenStore(redis_url, tenant).renewal():
        print("held", flush=True)
        await asyncio.Event().wait()  # a worker stuck mid-refresh, until it is killed


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    asyncio.run(serve(*arguments) if command == "serve" else hold(*arguments))
