"""Signaling accepts the public URL's origin and same-origin pages, nothing else."""

from __future__ import annotations

from hearing_server.signaling.origins import origin_check


def test_origins() -> None:
    check = origin_check("https://court.example:8443/")
    env = {"wsgi.url_scheme": "http", "HTTP_HOST": "localhost:8080"}
    assert check("https://court.example:8443", env)
    assert check("http://localhost:8080", env)
    assert check(None, env)
    assert not check("http://evil.example", env)
    assert not check("https://localhost:8080", env)
    proxied = {**env, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "h.example"}
    assert check("https://h.example", proxied)
