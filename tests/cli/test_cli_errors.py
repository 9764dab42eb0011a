"""Bad configuration ends with one line naming the cause and exit status 2, not a traceback."""

from __future__ import annotations

import pytest

from roomcal_pipeline.cli.main import main


def test_missing_rooms_file(roomcal_env, capsys):
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    assert main(["run", "--start", "2026-01-05", "--end", "2026-01-06"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ROOMCAL_ROOMS_FILE" in err


def test_missing_credentials(roomcal_env, tmp_path, capsys):
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("email,name,building,floor,capacity,timezone\n")
    roomcal_env.setenv("ROOMCAL_ROOMS_FILE", str(rooms))
    assert main(["run", "--start", "2026-01-05", "--end", "2026-01-06"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "AZURE_TENANT_ID" in err


def test_unreachable_database(roomcal_env, tmp_path, capsys):
    rooms = tmp_path / "rooms.csv"
    rooms.write_text("email,name,building,floor,capacity,timezone\n")
    roomcal_env.setenv("ROOMCAL_ROOMS_FILE", str(rooms))
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", "postgresql://roomcal:pw@127.0.0.1:1/none")
    assert main(["run", "--start", "2026-01-05", "--end", "2026-01-06"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ROOMCAL_DATABASE_URL" in err and "pw" not in err


def test_end_before_start(roomcal_env, capsys):
    roomcal_env.setenv("ROOMCAL_GRAPH_TOKEN", "t")
    roomcal_env.setenv("ROOMCAL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--start", "2026-01-05", "--end", "yesterday"])
    assert exit_info.value.code == 2
