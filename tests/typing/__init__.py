"""Files checked by ``mypy --strict`` (never run): the public API's types carry through."""
