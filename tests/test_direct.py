"""The recommendation routes' GETs answered without Flask's request handling (web/direct.py):
the answers Flask gives, and every other request left to Flask."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.test import Client
from werkzeug.wrappers import Request

from web.direct import Direct, Shortcuts, query_args, request_path

ANSWERED = [  # every cached route, with each kind of parameter
    "/recommend/content/P1?top_k=3",
    "/recommend/content/P1?top_k=3&category=coffee&exclude=P2",
    "/recommend/content/P%31",  # an encoded id
    "/recommend/user/U5?top_k=3",
    "/recommend/user/U5?top_k=2&details=1",
    "/recommend/user/U5?strategy=content&top_k=4&exclude=P1,P4",
    "/recommend/user/a%2Fb?top_k=2",  # an id holding a slash
    "/recommend/user/%C3%A9l%C3%A8ve",  # and one that is not ASCII
    "/recommend/user/U5?top_k=3&unknown=1&top_k=5",  # an unknown parameter, a repeated one
    "/recommend/hybrid?user_id=U5&product_id=P2&top_k=3",
    "/recommend/hybrid?product_id=P2&w_content=1&w_cf=0",
    "/recommend/hybrid?user_id=U5&user_id=U1",
    "/recommend/hybrid?user_id=U5+U1&product_id=P2",  # "+" is a space, as in a form
    "/recommend/ab?user_id=U5&top_k=3",
    "/recommend/ab?user_id=U2&product_id=P3&category=Coffee,Tea",
]
REFUSED = [  # answered by Flask: errors, other routes, methods and addresses
    "/recommend/content/NOPE",
    "/recommend/content/P1?top_k=0",
    "/recommend/user/U5?strategy=magic",
    "/recommend/user/U5?top_k=%FF",  # not UTF-8
    "/recommend/hybrid",
    "/recommend/hybrid?user_id=U5&w_content=0&w_cf=0",
    "/recommend/hybrid?user_id=U5&product_id=NOPE",
    "/recommend/ab",
    "/recommend/ab?user_id=%01",
    "/recommend/user/",
    "/recommend/hybrid/",
    "/recommend",
    "/health",
]


def without_recomm_id(body: dict) -> dict:
    assert body.pop("recomm_id")  # an id per answer, by either path
    return body


@pytest.fixture
def app(config, make_app):
    return make_app(replace(config, cache_enabled=False))


@pytest.fixture
def flask_reached(app, monkeypatch) -> list[str]:
    """The paths of the requests Direct hands to Flask."""
    direct = direct_of(app)
    reached, flask_app = [], direct.wsgi_app

    def flask(environ, start_response):
        reached.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    monkeypatch.setattr(direct, "wsgi_app", flask)
    return reached


@pytest.mark.parametrize("url", ANSWERED)
def test_a_get_of_a_recommendation_route_is_answered_without_flask_as_flask_answers_it(
    app, flask_reached, url
):
    answered = app.test_client().get(url)
    assert flask_reached == []
    by_flask = Client(app.__class__.wsgi_app.__get__(app)).get(url)  # Flask's own handling alone
    assert (answered.status_code, by_flask.status_code) == (200, 200)
    assert answered.headers["Content-Type"] == by_flask.headers["Content-Type"] == "application/json"
    assert int(answered.headers["Content-Length"]) == len(answered.data)
    assert without_recomm_id(answered.get_json()) == without_recomm_id(by_flask.get_json())
    assert answered.headers["X-Request-ID"]  # the request log sees it as any other


@pytest.mark.parametrize("url", REFUSED)
def test_a_request_the_route_refuses_is_answered_by_flask(app, flask_reached, url):
    answered = app.test_client().get(url)
    assert flask_reached == [url.partition("?")[0]]
    assert answered.status_code != 200 or url == "/health"


def test_other_methods_go_to_flask(app, flask_reached):
    client = app.test_client()
    assert client.head("/recommend/user/U5").status_code == 200
    assert client.post("/recommend/user/U5").status_code == 405
    assert flask_reached == ["/recommend/user/U5"] * 2


def test_a_failing_strategy_is_answered_by_flask_as_a_logged_500(app, flask_reached, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    model = app.extensions["recommender"].live.current()
    monkeypatch.setattr(model.strategies[model.user_strategy], "rows", broken)
    response = app.test_client().get("/recommend/user/U1")
    assert response.status_code == 500 and flask_reached == ["/recommend/user/U1"]
    logged = [r for r in caplog.records if r.exc_info and "model exploded" in str(r.exc_info[1])]
    assert len(logged) == 1  # Flask logs it, once


def direct_of(app) -> Direct:
    direct = app.wsgi_app
    while not isinstance(direct, Direct):
        direct = direct.wsgi_app
    return direct


# Addresses near the cached routes': their starts, then anything (slashes, escapes, other scripts).
addresses = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from(
        ["/recommend/user/", "/recommend/content/", "/recommend/hybrid", "/recommend/ab", "/recommend/", "/"]
    ),
    st.text(alphabet=st.sampled_from(["/", "a", "U", "5", "%", "é", " ", ".", "\x00"]), max_size=12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=addresses)  # the app is only read: one for every address
def test_an_address_the_shortcuts_match_is_matched_by_the_url_map_alike(app, path):
    direct = direct_of(app)
    found = direct.shortcuts.match(path)
    try:
        rule, view_args = direct.routes.match(path, "GET", return_rule=True)
    except HTTPException:  # no route, or a redirect: the shortcuts leave it to the map
        assert found is None
        return
    if found is not None:
        assert (found[0].endpoint, found[1]) == (rule.endpoint, view_args)


def test_the_shortcuts_cover_every_cached_route(app):
    shortcuts = direct_of(app).shortcuts
    assert sorted(shortcuts.fixed) == ["/recommend/ab", "/recommend/hybrid"]
    assert [start for start, _, _ in shortcuts.starts] == ["/recommend/content/", "/recommend/user/"]


@pytest.mark.parametrize(
    "other",
    ["/items/<path:item>/edit", "/items/special", "/<path:page>", "/items/<int:number>"],
)
def test_a_route_another_route_may_match_has_no_shortcut(other):
    rules = Map([Rule("/items/<path:item>", endpoint="item"), Rule(other, endpoint="other")])
    shortcuts = Shortcuts(list(rules.iter_rules()), ["item"])
    assert shortcuts.starts == []
    assert shortcuts.match("/items/x") is None  # the map decides


# Queries and paths as a server hands them over: text decoded as latin-1, so any byte is a character.
query_text = st.text(st.sampled_from("ab=&%+;._-2é\x80\xff/?"), max_size=24)


@settings(max_examples=500, deadline=None)
@given(query=query_text)
def test_the_query_is_read_as_werkzeug_reads_it(query):
    environ = {"QUERY_STRING": query}
    try:
        werkzeugs = Request(environ).args
    except UnicodeDecodeError:  # bytes that are not UTF-8: refused alike (Flask then answers)
        with pytest.raises(UnicodeDecodeError):
            query_args(environ)
        return
    ours = query_args(environ)
    assert set(ours) == set(werkzeugs)
    assert {name: ours[name] for name in ours} == {name: werkzeugs[name] for name in werkzeugs}


@settings(max_examples=300, deadline=None)
@given(path=query_text)
def test_the_path_is_decoded_as_werkzeug_decodes_it(path):
    environ = {"PATH_INFO": path}
    assert request_path(environ) == Request(environ).path


def test_a_plain_query_is_split_without_werkzeug():
    args = query_args({"QUERY_STRING": "user_id=U5&&top_k=3&flag&top_k=5&w=a=b"})
    assert args == {"user_id": "U5", "top_k": "3", "flag": "", "w": "a=b"}
    assert isinstance(args, dict)
