"""Seeded fault injection for the sandbox: the failures a client meets against the real Outreach.

What it imitates (outreach-api-facts.md §2, §7, §11):

- 500s, 502s (JSON, or the HTML page a gateway sends), 503s, and connection resets, at rates;
- latency, fixed plus a uniform jitter, and "slow" answers that outlast a client's timeout;
- 502 on a collection page larger than a limit for heavy types (§11.8: EST halves ``page[size]``
  on 502 because big pages time out);
- maintenance windows: 503 ``scheduledServerMaintenance`` with ``Retry-After`` as an ISO timestamp
  (§2, §7);
- a reset *after* a write took effect (``reset_after_write_rate``): the client never learns the
  outcome, which is what a retry layer must not blindly repeat.

Random faults hit reads only unless ``apply_to_writes``; maintenance, heavy pages, latency and
``reset_after_write_rate`` apply as configured. Every decision comes from one
``random.Random(seed)`` drawing a fixed number of values per request, so a run is reproducible
from the seed and the order of requests. :func:`plan_request` is pure; the middleware only sleeps,
answers or aborts.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from outreach_async.sandbox.errors import ApiError, error_response
from outreach_async.sandbox.times import format_epoch_ms

__all__ = [
    "FaultConfig",
    "FaultKind",
    "FaultPlan",
    "FaultState",
    "fault_middleware",
    "plan_request",
]

FaultKind = Literal[
    "maintenance",
    "heavy_page",
    "error_500",
    "error_502",
    "error_502_html",
    "error_503",
    "reset",
    "reset_after_write",
    "slow",
]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_COLLECTION_PREFIX = "/api/v2/"

# The spec names of the rates, in the order the random draw is split between them.
_RATE_KEYS: dict[str, str] = {
    "500": "error_rate_500",
    "502": "error_rate_502",
    "502html": "error_rate_502_html",
    "503": "error_rate_503",
    "reset": "reset_rate",
}
_OTHER_FLOAT_KEYS: dict[str, str] = {
    "reset_after_write": "reset_after_write_rate",
    "slow": "slow_rate",
    "latency": "latency",
    "jitter": "jitter",
    "slow_delay": "slow_delay",
}
_SECONDS_KEYS = frozenset({"latency", "jitter", "slow_delay"})


def _check_rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, not {value!r}")


def _check_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0, not {value!r}")


def _check_windows(
    instance: object,
    attribute: attrs.Attribute[list[tuple[float, float]]],
    value: list[tuple[float, float]],
) -> None:
    for start, end in value:
        if not start <= end:
            raise ValueError(f"maintenance window {start!r}..{end!r} ends before it starts")


@attrs.define
class FaultConfig:
    """Which faults the sandbox injects, and how often; all off by default."""

    seed: int = 0
    error_rate_500: float = attrs.field(default=0.0, validator=_check_rate)
    error_rate_502: float = attrs.field(default=0.0, validator=_check_rate)
    error_rate_502_html: float = attrs.field(default=0.0, validator=_check_rate)
    error_rate_503: float = attrs.field(default=0.0, validator=_check_rate)
    #: Connection reset before the handler runs: the request had no effect.
    reset_rate: float = attrs.field(default=0.0, validator=_check_rate)
    #: Connection reset after a write's handler ran: the write took effect, unanswered.
    reset_after_write_rate: float = attrs.field(default=0.0, validator=_check_rate)
    latency: float = attrs.field(default=0.0, validator=_check_seconds)
    jitter: float = attrs.field(default=0.0, validator=_check_seconds)
    slow_rate: float = attrs.field(default=0.0, validator=_check_rate)
    #: How long a slow answer waits; longer than a client's usual 30 s timeout.
    slow_delay: float = attrs.field(default=35.0, validator=_check_seconds)
    #: Resource type (``"mailing"``) -> largest page served before a 502.
    heavy_page_limits: dict[str, int] = attrs.field(factory=dict)
    #: ``(start, end)`` epoch seconds during which every request gets 503 maintenance.
    maintenance: list[tuple[float, float]] = attrs.field(factory=list, validator=_check_windows)
    apply_to_writes: bool = False
    path_prefix: str = "/api/"

    def __attrs_post_init__(self) -> None:
        if sum(getattr(self, name) for name in _RATE_KEYS.values()) > 1.0:
            raise ValueError("the error and reset rates add up to more than 1")

    @classmethod
    def from_spec(cls, spec: str) -> FaultConfig:
        """Parse the CLI's ``--faults`` text, e.g. ``"503=0.05,502html=0.03,latency=50ms"``.

        Items are ``key=value`` separated by commas: the rates ``500``, ``502``, ``502html``,
        ``503``, ``reset``, ``reset_after_write`` and ``slow``; the durations ``latency``,
        ``jitter`` and ``slow_delay`` (seconds, or with an ``ms``/``s`` suffix); ``seed``;
        ``writes`` (``true``/``false``); ``heavy:<type>=<max page size>``; and
        ``maintenance=<start>..<end>`` in epoch seconds (repeatable). Raises ValueError.
        """
        values: dict[str, object] = {}
        heavy: dict[str, int] = {}
        windows: list[tuple[float, float]] = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, raw = (piece.strip() for piece in item.partition("="))
            if not sep or not raw:
                raise ValueError(f"fault spec item {item!r} is not key=value")
            _apply_spec_item(key, raw, values, heavy, windows)
        # ``values`` maps field names to values of the field's type, which mypy cannot see.
        return cls(**values, heavy_page_limits=heavy, maintenance=windows)  # type: ignore[arg-type]

    def to_spec(self) -> str:
        """The ``--faults`` text that :meth:`from_spec` reads back into an equal config."""
        items = [f"seed={self.seed}"]
        for key, name in (_RATE_KEYS | _OTHER_FLOAT_KEYS).items():
            items.append(f"{key}={getattr(self, name)!r}")
        items.append(f"writes={'true' if self.apply_to_writes else 'false'}")
        items.extend(f"heavy:{type_}={limit}" for type_, limit in self.heavy_page_limits.items())
        items.extend(f"maintenance={start!r}..{end!r}" for start, end in self.maintenance)
        return ",".join(items)


def _apply_spec_item(
    key: str,
    raw: str,
    values: dict[str, object],
    heavy: dict[str, int],
    windows: list[tuple[float, float]],
) -> None:
    lowered = key.lower()
    try:
        if lowered in _RATE_KEYS or lowered in _OTHER_FLOAT_KEYS:
            name = _RATE_KEYS.get(lowered) or _OTHER_FLOAT_KEYS[lowered]
            values[name] = _parse_seconds(raw) if lowered in _SECONDS_KEYS else float(raw)
        elif lowered == "seed":
            values["seed"] = int(raw)
        elif lowered == "writes":
            values["apply_to_writes"] = _parse_bool(raw)
        elif lowered.startswith("heavy:") and len(key) > len("heavy:"):
            # The type keeps its case: "heavy:sequenceState=200".
            heavy[key[len("heavy:") :]] = int(raw)
        elif lowered == "maintenance":
            start, sep, end = raw.partition("..")
            if not sep:
                raise ValueError("expected <start>..<end>")
            windows.append((float(start), float(end)))
        else:
            raise ValueError("unknown key")
    except ValueError as exc:
        raise ValueError(f"bad fault spec item {key}={raw}: {exc}") from exc


def _parse_seconds(raw: str) -> float:
    if raw.endswith("ms"):
        return float(raw[:-2]) / 1000.0
    return float(raw.removesuffix("s"))


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


@attrs.frozen
class FaultPlan:
    """What to do to one request: wait, answer a fault instead, and/or reset after a write."""

    delay: float = 0.0
    before: FaultKind | None = None
    reset_after: bool = False
    slow: bool = False
    #: For maintenance: the window's end, which ``Retry-After`` names.
    until: float | None = None


def plan_request(
    config: FaultConfig,
    rng: random.Random,
    method: str,
    path: str,
    query: Mapping[str, str],
    now: float,
) -> FaultPlan:
    """Decide the faults for one request; draws exactly four values from ``rng``."""
    u_error, u_jitter, u_slow, u_after = (rng.random() for _ in range(4))
    for start, end in config.maintenance:
        if start <= now < end:
            return FaultPlan(before="maintenance", until=end)
    is_write = method.upper() not in _READ_METHODS
    random_faults = config.apply_to_writes or not is_write
    slow = random_faults and u_slow < config.slow_rate
    delay = config.latency + config.jitter * u_jitter + (config.slow_delay if slow else 0.0)
    before: FaultKind | None = None
    if not is_write and _page_too_heavy(config, path, query):
        before = "heavy_page"
    elif random_faults:
        before = _pick_error(config, u_error)
    reset_after = before is None and is_write and u_after < config.reset_after_write_rate
    return FaultPlan(delay=delay, before=before, reset_after=reset_after, slow=slow)


def _pick_error(config: FaultConfig, draw: float) -> FaultKind | None:
    kinds: tuple[tuple[FaultKind, float], ...] = (
        ("error_500", config.error_rate_500),
        ("error_502", config.error_rate_502),
        ("error_502_html", config.error_rate_502_html),
        ("error_503", config.error_rate_503),
        ("reset", config.reset_rate),
    )
    threshold = 0.0
    for kind, rate in kinds:
        threshold += rate
        if draw < threshold:
            return kind
    return None


def _page_too_heavy(config: FaultConfig, path: str, query: Mapping[str, str]) -> bool:
    if not config.heavy_page_limits or not path.startswith(_COLLECTION_PREFIX):
        return False
    segment = path.removeprefix(_COLLECTION_PREFIX).strip("/")
    if "/" in segment:
        return False  # a single resource or a nested path, not a collection page
    limit = _heavy_limit(config.heavy_page_limits, segment)
    size = query.get("page[size]") or query.get("page[limit]")
    if limit is None or size is None:
        return False
    try:
        return int(size) > limit
    except ValueError:
        return False


def _heavy_limit(limits: Mapping[str, int], segment: str) -> int | None:
    # Limits are keyed by type ("mailing", "opportunity"); paths are plural ("mailings",
    # "opportunities"); accept either spelling of the key.
    for type_, limit in limits.items():
        if segment in (type_, type_ + "s", type_ + "es", type_[:-1] + "ies"):
            return limit
    return None


@attrs.define
class FaultState:
    """Counters: requests seen under the prefix and faults injected, by kind."""

    requests: int = 0
    injected: Counter[str] = attrs.field(factory=Counter)
    delayed_seconds: float = 0.0

    def record(self, plan: FaultPlan) -> None:
        """Count what ``plan`` will do."""
        self.requests += 1
        self.delayed_seconds += plan.delay
        for kind, happened in (
            (plan.before, plan.before is not None),
            ("reset_after_write", plan.reset_after),
            ("slow", plan.slow),
        ):
            if happened and kind is not None:
                self.injected[kind] += 1


_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _fault_response(kind: FaultKind, until: float | None) -> web.Response:
    if kind == "maintenance" and until is not None:
        again = format_epoch_ms(int(until * 1000))
        detail = f"Scheduled server maintenance is under way; please try again at {again}."
        title = "Scheduled Server Maintenance"
        headers = {"Retry-After": again}
        return error_response(
            ApiError(503, "scheduledServerMaintenance", title, detail, headers=headers)
        )
    if kind in ("error_502_html", "heavy_page"):
        return web.Response(status=502, text=_NGINX_502, content_type="text/html")
    status, error_id, title = {
        "error_500": (500, "internalServerError", "Internal Server Error"),
        "error_502": (502, "badGateway", "Bad Gateway"),
    }.get(kind, (503, "serviceUnavailable", "Service Unavailable"))
    detail = "The sandbox injected this failure."
    return error_response(ApiError(status, error_id, title, detail))


def _abort(request: web.Request) -> web.Response:
    # Closing the socket without an answer is what the client sees as a connection reset; the
    # returned response is never written.
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def fault_middleware(
    config: FaultConfig,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    *,
    state: FaultState | None = None,
) -> Middleware:
    """An aiohttp middleware injecting ``config``'s faults; put it outermost.

    Outermost, a fault answers as a gateway in front of Outreach would: it costs no rate-limit
    budget and carries no ``X-RateLimit-*`` headers. Pass ``state`` to read the counters.
    """
    rng = random.Random(config.seed)
    counters = state if state is not None else FaultState()

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(config.path_prefix):
            return await handler(request)
        plan = plan_request(config, rng, request.method, request.path, request.query, clock())
        counters.record(plan)
        if plan.delay > 0:
            await sleep(plan.delay)
        if plan.before == "reset":
            return _abort(request)
        if plan.before is not None:
            return _fault_response(plan.before, plan.until)
        try:
            return await handler(request)
        finally:
            if plan.reset_after:
                _abort(request)

    return inject
