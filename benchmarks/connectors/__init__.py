"""Two connectors nobody here wrote, tap-outreach and Airbyte's source-outreach, read every
stream from the sandbox (``nox -s connectors``; issue 18). Not part of the test suite: they
install third-party packages, and the Airbyte one needs a Python 3.10 of its own."""
