import pytest

from roomcal_pipeline.warehouse.database import dbt_connection_env, redact_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ana:s%40cret@db.example:6543/wh?sslmode=require",
        "host=db.example port=6543 user=ana password=s@cret dbname=wh sslmode=require",
    ],
)
def test_dbt_env_from_uri_and_keyword_forms(url):
    assert dbt_connection_env(url) == {
        "ROOMCAL_DB_HOST": "db.example",
        "ROOMCAL_DB_PORT": "6543",
        "ROOMCAL_DB_USER": "ana",
        "ROOMCAL_DB_PASSWORD": "s@cret",
        "ROOMCAL_DB_NAME": "wh",
        "ROOMCAL_DB_SSLMODE": "require",
    }


def test_unix_socket_directory_as_host():
    env = dbt_connection_env("postgresql://postgres:@/roomcal?host=/tmp/pg%20sock")
    assert env["ROOMCAL_DB_HOST"] == "/tmp/pg sock"
    assert env["ROOMCAL_DB_NAME"] == "roomcal"


def test_redact_url_hides_password():
    assert "s3cret" not in redact_url("postgresql://ana:s3cret@db/wh")


def test_gx_sqlalchemy_url_for_socket_and_tcp():
    from roomcal_pipeline.quality.gx_runner import sqlalchemy_url

    assert (
        sqlalchemy_url("postgresql://postgres:@/roomcal?host=/tmp/pg")
        == "postgresql+psycopg2://postgres@/roomcal?host=%2Ftmp%2Fpg"
    )
    assert (
        sqlalchemy_url("host=db port=6000 user=a password=p@ss dbname=wh")
        == "postgresql+psycopg2://a:p%40ss@db:6000/wh"
    )
