"""A Singer tap (``tap-outreach-async``), a drop-in for tap-outreach in Meltano.

```console
tap-outreach-async --config config.json --discover > catalog.json
tap-outreach-async --config config.json --catalog catalog.json --state state.json | target-...
```

Config: ``token`` (an access token), or ``client_id``, ``client_secret`` and ``refresh_token``
(with ``token_url`` off Outreach's); ``base_url`` (default Outreach's), ``start_date`` and
``page_size``. Streams are named as tap-outreach names them; see :mod:`._catalog`.
"""

from ._catalog import Stream, catalog, schema, selected_streams, stream_name
from ._tap import SingerOutput, SingerState, main, run

__all__ = [
    "SingerOutput",
    "SingerState",
    "Stream",
    "catalog",
    "main",
    "run",
    "schema",
    "selected_streams",
    "stream_name",
]
