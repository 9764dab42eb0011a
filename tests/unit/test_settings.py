import pytest

from roomcal_pipeline.config.settings import (
    ConfigError,
    Settings,
    parse_business_days,
    parse_business_hours,
)


def test_defaults_follow_spec():
    s = Settings.from_env({})
    assert s.database_url is None
    assert s.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert s.timezone == "UTC"
    assert s.business_hours == (9 * 60, 17 * 60)
    assert s.business_days == frozenset({1, 2, 3, 4, 5})
    assert s.adhoc_max_lead_minutes == 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:30-18:00", (510, 1080)), ("7:00 - 24:00", (420, 1440))],
)
def test_business_hours(text, expected):
    assert parse_business_hours(text) == expected


@pytest.mark.parametrize(
    "text", ["9-17", "18:00-09:00", "09:00-09:00", "25:00-26:00", "24:30-24:45"]
)
def test_bad_business_hours(text):
    with pytest.raises(ValueError):
        parse_business_hours(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mon-Fri", {1, 2, 3, 4, 5}),
        ("Mon,Wed,Fri", {1, 3, 5}),
        ("fri-mon", {5, 6, 7, 1}),
        ("Sunday", {7}),
    ],
)
def test_business_days(text, expected):
    assert parse_business_days(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["Mon-Funday", "Moonday", ",", "Mo"])
def test_bad_business_days(text):
    with pytest.raises(ValueError):
        parse_business_days(text)


def test_bad_variable_gives_one_line_error_naming_it():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ROOMCAL_TIMEZONE": "Mars/Olympus"})
    assert str(err.value).startswith("ROOMCAL_TIMEZONE:")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="ROOMCAL_ADHOC_MAX_LEAD_MINUTES"):
        Settings.from_env({"ROOMCAL_ADHOC_MAX_LEAD_MINUTES": "soon"})


def test_missing_rooms_file_and_credentials_named():
    s = Settings.from_env({})
    with pytest.raises(ConfigError, match="ROOMCAL_ROOMS_FILE"):
        s.require_rooms_file()
    with pytest.raises(ConfigError, match="AZURE_TENANT_ID"):
        s.require_graph_credentials()
    Settings.from_env({"ROOMCAL_GRAPH_TOKEN": "t"}).require_graph_credentials()
