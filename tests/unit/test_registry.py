import pytest

from roomcal_pipeline.config import ConfigError, parse_registry

HEADER = "email,name,building,floor,capacity,timezone,business_hours,business_days\n"


def test_valid_rows_with_overrides_and_defaults():
    rooms, issues = parse_registry(
        HEADER
        + "A@Corp.example,Alpha,HQ,1,8,Europe/London,08:00-18:00,Mon-Thu\n"
        + "b@corp.example,Beta,HQ,2,4,,,\n"
        + ",Gamma,HQ,3,6,Asia/Kolkata,,\n",
        default_timezone="America/New_York",
    )
    assert issues == []
    alpha, beta, gamma = rooms
    assert alpha.email == "a@corp.example" and alpha.key == "a@corp.example"
    assert (alpha.opens_minute, alpha.closes_minute) == (480, 1080)
    assert alpha.business_days == frozenset({1, 2, 3, 4})
    assert beta.timezone == "America/New_York" and beta.opens_minute == 540
    assert gamma.email is None and gamma.key == "noemail:gamma"


def test_malformed_rows_reported_with_line_numbers_others_load():
    text = (
        HEADER
        + "ok@corp.example,Ok,HQ,1,8,UTC,,\n"  # line 2
        + "not-an-email,Bad,HQ,1,8,UTC,,\n"  # line 3
        + "tz@corp.example,BadTz,HQ,1,8,Moon/Base,,\n"  # line 4
        + "cap@corp.example,BadCap,HQ,1,eight,UTC,,\n"  # line 5
        + "hours@corp.example,BadHours,HQ,1,8,UTC,17:00-09:00,\n"  # line 6
        + "ok@corp.example,Dup,HQ,1,8,UTC,,\n"  # line 7
        + "ok2@corp.example,Ok2,HQ,1,8,UTC,,\n"  # line 8
    )
    rooms, issues = parse_registry(text)
    assert [r.email for r in rooms] == ["ok@corp.example", "ok2@corp.example"]
    by_line = {i.line: i.reason for i in issues}
    assert set(by_line) == {3, 4, 5, 6, 7}
    assert "email" in by_line[3]
    assert "time zone" in by_line[4]
    assert "capacity" in by_line[5]
    assert "business hours" in by_line[6]
    assert "already registered on line 2" in by_line[7]


def test_missing_column_is_a_config_error():
    with pytest.raises(ConfigError, match="timezone"):
        parse_registry("email,name,building,floor,capacity\n")
