"""The app factory: configuration, secure cookies, the start page per role."""

from __future__ import annotations

import datetime as dt

import pytest

from web import create_app


def test_config_overrides_and_testing_flag(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert not create_app({"DATABASE_URL": url, "SECRET_KEY": "k"}).testing
    app = create_app({"DATABASE_URL": url, "TESTING": True, "TODAY": dt.date(2026, 1, 5)})
    assert app.testing and app.config["TODAY"] == dt.date(2026, 1, 5)
    assert app.config["SECRET_KEY"]  # made up when none is configured


def test_session_cookie_is_secure_unless_testing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    production = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert create_app({"DATABASE_URL": url, "TESTING": True}).config["SESSION_COOKIE_SECURE"] is False
    demo = create_app({"DATABASE_URL": url, "SESSION_COOKIE_SECURE": False})
    assert demo.config["SESSION_COOKIE_SECURE"] is False


def test_settings_from_the_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSMATCH_SECRET_KEY", "from-env")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert app.config["SECRET_KEY"] == "from-env"


def test_sign_in_cookie_flags(client, auth, world) -> None:
    response = auth.login(auth.as_role("coordinator").email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(("role", "home"), [
    ("coordinator", "/queue/"), ("admin", "/queue/"), ("provider_relations", "/capacity/"),
    ("compliance", "/reports/timeliness"), ("provider", "/portal/"),
])
def test_start_page_depends_on_role(client, auth, world, role: str, home: str) -> None:
    auth.as_role(role, provider_id=world.provider_a.id if role == "provider" else None)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == home


def test_anonymous_start_page_is_sign_in(client) -> None:
    assert client.get("/").headers["Location"] == "/auth/login"


def test_static_css_is_served_locally(client) -> None:
    with client.get("/static/csmatch.css") as response:
        assert response.status_code == 200 and b"--accent" in response.data


def test_security_headers(client, auth, world) -> None:
    anonymous = client.get("/auth/login")
    assert "script-src 'none'" in anonymous.headers["Content-Security-Policy"]
    assert anonymous.headers["X-Frame-Options"] == "DENY"
    assert "Cache-Control" not in anonymous.headers
    auth.as_role("coordinator")
    assert client.get("/queue/").headers["Cache-Control"] == "no-store"


def test_pages_use_no_inline_styles_or_scripts(client, auth, world) -> None:
    auth.as_role("coordinator")
    for path in ("/queue/", "/capacity/", f"/queue/proposals/{world.run.id}"):
        html = client.get(path).text
        assert "<script" not in html and ' style="' not in html, path


def test_pages_load_nothing_from_other_hosts(client, auth, world) -> None:
    auth.as_role("coordinator")
    for path in ("/queue/", "/capacity/", "/reports/timeliness"):
        html = client.get(path).text
        assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
