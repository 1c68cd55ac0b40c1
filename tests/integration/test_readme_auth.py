"""The README's Auth section: its token-store programs name every URL they need, and the
sandbox twin runs, as printed, after a login against the sandbox (issue 11).

The twin is marked for the README harness to skip, since it needs a logged-in sandbox on port
8787; here the sandbox listens on a free port, which replaces 8787 in the block's URLs.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp

from outreach_async.auth import FileTokenStore, login
from outreach_async.sandbox import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def auth_section() -> str:
    text = README.read_text()
    return text[text.index("\n## Auth\n") : text.index("\n## Bulk actions\n")]


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_every_token_store_program_names_its_api_and_token_endpoint() -> None:
    programs = [b for b in python_blocks(auth_section()) if "from_store(" in b]
    assert len(programs) == 3
    for block in programs:
        assert "token_url=" in block
        if "OutreachClient(" in block:
            assert "base_url=" in block


async def follow_redirect(url: str) -> None:
    """The browser: the sandbox consents at once and redirects to the loopback listener."""
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:
        await page.read()


async def test_the_sandbox_twin_runs_as_printed(tmp_path: Path) -> None:
    section = auth_section()
    twin = python_blocks(section[section.index("--token-file sandbox-tokens.json") :])[0]
    async with Sandbox(seed=5) as sandbox:
        await login(
            client_id="sandbox-client",
            client_secret="sandbox-secret",
            scopes="prospects.all",
            store=FileTokenStore(tmp_path / "sandbox-tokens.json"),
            authorize_base=f"{sandbox.origin}/oauth/authorize",
            token_url=sandbox.token_url,
            open_url=follow_redirect,
            announce=lambda _url: None,
        )
        program = twin.replace("http://127.0.0.1:8787", sandbox.origin)
        assert program != twin
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            program,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), 60)

        assert child.returncode == 0, err.decode()
        assert out.decode() == "5\n"
        assert sandbox.authority.mint_count == 1  # the saved token served; no refresh needed
