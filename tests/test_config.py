from __future__ import annotations

import pytest

from config import Config, ConfigError


def test_defaults_without_environment():
    config = Config.from_env({})
    assert config == Config()
    assert config.redis_url == "redis://localhost:6379/0"
    assert config.cache_enabled is True
    assert config.cache_ttl_seconds == 300
    assert config.ab_variants == (("content", 50.0), ("hybrid", 50.0))
    assert config.admin_token is None
    assert config.port == 5000
    assert config.max_top_k == 100
    assert config.feedback_db.startswith("sqlite:///") and config.feedback_db.endswith("instance/feedback.db")


def test_every_variable_is_read():
    config = Config.from_env(
        {
            "PRODUCTS_CSV": "p.csv",
            "INTERACTIONS_CSV": "i.csv",
            "REDIS_URL": "redis://cache:6380/2",
            "CACHE_ENABLED": "false",
            "CACHE_TTL_SECONDS": "60",
            "AB_VARIANTS": "content:20, hybrid:80",
            "AB_SALT": "exp-7",
            "FEEDBACK_DB": "postgresql://u@db/test",
            "ADMIN_TOKEN": "s3cret",
            "PORT": "8080",
            "MAX_TOP_K": "50",
            "INTERACTION_WEIGHTS": "view:1,purchase:10",
            "HYBRID_W_CONTENT": "0.3",
            "HYBRID_W_CF": "0.7",
            "RANKER_MAX_USERS": "900",
            "TEXT_LISTS_MAX_USERS": "2000",
        }
    )
    assert (config.products_csv, config.interactions_csv) == ("p.csv", "i.csv")
    assert config.redis_url == "redis://cache:6380/2"
    assert config.cache_enabled is False and config.cache_ttl_seconds == 60
    assert config.ab_variants == (("content", 20.0), ("hybrid", 80.0))
    assert config.ab_salt == "exp-7" and config.admin_token == "s3cret"
    assert config.feedback_db == "postgresql://u@db/test"
    assert (config.port, config.max_top_k) == (8080, 50)
    assert config.interaction_weights == (("view", 1.0), ("purchase", 10.0))
    assert (config.hybrid_w_content, config.hybrid_w_cf) == (0.3, 0.7)
    assert (config.ranker_max_users, config.text_lists_max_users) == (900, 2000)


def test_redis_parts_are_used_when_url_is_unset():
    config = Config.from_env({"REDIS_HOST": "cache", "REDIS_PORT": "6390", "REDIS_DB": "3"})
    assert config.redis_url == "redis://cache:6390/3"
    assert Config.from_env({"REDIS_URL": "redis://a:1/0", "REDIS_HOST": "b"}).redis_url == "redis://a:1/0"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CACHE_TTL_SECONDS", "abc", "CACHE_TTL_SECONDS must be an integer, got 'abc'"),
        ("CACHE_TTL_SECONDS", "0", "CACHE_TTL_SECONDS must be at least 1"),
        ("CACHE_ENABLED", "maybe", "CACHE_ENABLED must be true or false, got 'maybe'"),
        ("PORT", "70000", "PORT must be a port number"),
        ("MAX_TOP_K", "-1", "MAX_TOP_K must be at least 1"),
        ("AB_VARIANTS", "content", "AB_VARIANTS must be a list like"),
        ("AB_VARIANTS", "content:50,magic:50", "AB_VARIANTS: unknown variant 'magic'"),
        ("AB_VARIANTS", "content:0,hybrid:0", "AB_VARIANTS needs at least one weight above 0"),
        ("AB_VARIANTS", "content:50,content:50", "AB_VARIANTS names each entry once"),
        ("AB_VARIANTS", "content:-1,hybrid:2", "AB_VARIANTS must be a finite number >= 0"),
        ("INTERACTION_WEIGHTS", "view:x", "INTERACTION_WEIGHTS must be a number, got 'x'"),
        ("HYBRID_W_CF", "nan", "HYBRID_W_CF must be a finite number >= 0"),
        ("REDIS_PORT", "six", "REDIS_PORT must be an integer"),
        ("TEXT_LISTS_MAX_USERS", "0", "TEXT_LISTS_MAX_USERS must be at least 1"),
    ],
)
def test_bad_values_name_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Config.from_env({name: value})


def test_empty_variables_keep_defaults():
    assert Config.from_env({"CACHE_TTL_SECONDS": "", "ADMIN_TOKEN": ""}) == Config()


def test_service_defaults_are_the_library_defaults():
    # config.py is a leaf and repeats the model defaults; they must not drift apart.
    from recommender.build import model_settings
    from recommender.serving.service import ModelSettings

    assert model_settings(Config()) == ModelSettings()


def test_the_database_url_and_the_security_settings_are_read():
    config = Config.from_env(
        {
            "DATABASE_URL": "postgresql://u@db/store",
            "FEEDBACK_DB": "sqlite:///old.db",
            "EVENTS_TOKEN": "ev3nts",
            "FEEDBACK_CLIENT_RATE_LIMIT": "50/second",
            "TRUSTED_PROXIES": "1",
            "CACHE_LOCAL_ENTRIES": "0",
        }
    )
    assert config.feedback_db == "postgresql://u@db/store"  # the new name wins over the former one
    assert config.events_token == "ev3nts"
    assert config.feedback_client_rate_limit == "50/second" and config.trusted_proxies == 1
    assert config.cache_local_entries == 0 and Config().cache_local_entries == 10_000
    assert Config.from_env({"FEEDBACK_DB": "sqlite:///old.db"}).feedback_db == "sqlite:///old.db"
    assert Config.from_env({"FEEDBACK_CLIENT_RATE_LIMIT": "off"}).feedback_client_rate_limit is None
    assert Config().events_token is None and Config().trusted_proxies == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRUSTED_PROXIES", "-1"), ("TRUSTED_PROXIES", "one"), ("FEEDBACK_CLIENT_RATE_LIMIT", "lots")],
)
def test_bad_security_settings_name_their_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})
