"""Search URLs as FHIR servers and proxies expect them: every parameter value percent-encoded."""

from __future__ import annotations

from urllib.parse import quote, unquote


def encoded(relative: str) -> str:
    """`Observation?code=http://loinc.org|97509-4` -> `Observation?code=http%3A%2F%2Floinc.org%7C97509-4`.

    Raw `//`, `|` and `,` are legal in a query, yet proxies rewrite them: the SMART App Launcher's
    collapses `//` to `/`, and the search then silently comes back empty (absence read from a
    mangled query). Values already encoded are decoded first, so nothing is encoded twice.
    """
    path, mark, query = relative.partition("?")
    if not mark:
        return relative
    pairs = (pair.partition("=") for pair in query.split("&") if pair)
    return (
        path
        + "?"
        + "&".join(
            f"{quote(unquote(name), safe='')}{equals}{quote(unquote(value), safe='')}"
            for name, equals, value in pairs
        )
    )
