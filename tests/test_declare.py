"""Route declarations: every parameter's check agrees with the schema it is described by, at the
edges the schema names, and every route of the app is declared once."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import BadRequest

from config import Config
from web.declare import ROUTES, Param, Route, integer, route
from web.factory import BLUEPRINTS  # noqa: F401  # the blueprints declare their routes on import

CONFIG = Config(max_top_k=20)
PARAMS = {(r.method, r.path, p.name): p for r in ROUTES for p in (*r.params, *r.fields)}


def refused(param: Param, raw: object) -> bool:
    try:
        param.parse(raw, CONFIG)
    except BadRequest:
        return True
    return False


@pytest.mark.parametrize("key", [k for k, p in PARAMS.items() if p.schema(CONFIG).get("type") == "integer"])
def test_an_integer_is_taken_within_its_described_bounds_and_refused_outside(key):
    param = PARAMS[key]
    schema = param.schema(CONFIG)
    low, high = schema["minimum"], schema["maximum"]
    assert param.parse(str(low), CONFIG) == low and param.parse(str(high), CONFIG) == high
    assert param.parse(None, CONFIG) == schema["default"]
    for bad in (str(low - 1), str(high + 1), "ten", "²", "1.5"):
        assert refused(param, bad), bad


@pytest.mark.parametrize("key", [k for k, p in PARAMS.items() if "maxLength" in p.schema(CONFIG)])
def test_a_text_is_taken_up_to_its_described_length_and_refused_beyond(key):
    param = PARAMS[key]
    limit = param.schema(CONFIG)["maxLength"]
    assert not refused(param, "a" * limit)
    assert refused(param, "a" * (limit + 1))


@pytest.mark.parametrize(
    "key", [k for k, p in PARAMS.items() if "enum" in p.schema(CONFIG) and p.checked and p.where != "path"]
)
def test_a_choice_takes_each_described_value_and_refuses_another(key):
    param = PARAMS[key]
    for value in param.schema(CONFIG)["enum"]:
        assert param.parse(value, CONFIG) == value
    assert refused(param, "no-such-value")


def test_a_weight_is_a_finite_number_at_least_zero():
    weight = PARAMS[("GET", "/recommend/hybrid", "w_cf")]
    assert weight.parse("0", CONFIG) == 0.0 and weight.parse(None, CONFIG) == CONFIG.hybrid_w_cf
    for bad in ("-1", "inf", "nan", "heavy"):
        assert refused(weight, bad), bad


def test_required_parameters_and_fields_refuse_absence_with_their_name():
    for key in [("GET", "/recommend/ab", "user_id"), ("POST", "/feedback", "user_id")]:
        with pytest.raises(BadRequest, match="user_id is required"):
            PARAMS[key].parse(None, CONFIG)


def test_the_message_names_the_parameter_and_the_bounds():
    top_k = PARAMS[("GET", "/recommend/hybrid", "top_k")]
    with pytest.raises(BadRequest) as refused_once:
        top_k.parse("0", CONFIG)
    assert refused_once.value.description == "top_k must be from 1 to 20; got 0"


def test_every_app_route_is_declared_exactly_once(app):
    declared = [(r.method, r.rule) for r in ROUTES]
    assert len(declared) == len(set(declared))
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == set(declared)


def test_a_route_path_is_written_as_openapi_writes_it():
    declared = Route("GET", "/products/<path:product_id>/x/<name>", "")
    assert declared.path == "/products/{product_id}/x/{name}"


def test_a_route_declared_through_a_wrapper_is_registered_wrapped():
    from flask import Blueprint, Flask

    bp, seen = Blueprint("t", __name__), []

    def through(view, declaration):  # type: ignore[no-untyped-def]
        seen.append(declaration.query)
        return lambda: "wrapped"

    count = integer("n", "how many", maximum=5, default=1)
    before = len(ROUTES)
    try:
        route(bp, "GET", "/t", through=through, summary="a test", params=(count,))(lambda: "bare")
        app = Flask(__name__)
        app.register_blueprint(bp)
        assert app.test_client().get("/t").get_data(as_text=True) == "wrapped"
        assert seen == [("n",)]
    finally:
        del ROUTES[before:]
