"""The dbt project, and its manifest prepared at build or dev time, never per process.

`dagster dev` prepares it through `prepare_if_dev`; `roomcal` and the tests call
`ensure_manifest()` before loading the definitions; the Docker image prepares it
at build time (`dagster-dbt project prepare-and-package`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

# The dbt installed with roomcal, found without relying on an activated virtualenv's PATH.
_SIBLING_DBT = Path(sys.executable).parent / "dbt"
DBT_EXECUTABLE = str(_SIBLING_DBT) if _SIBLING_DBT.exists() else "dbt"

_SOURCES = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in _SOURCES:
        path = DBT_PROJECT_DIR / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its files.

    Under a file lock: two processes starting at once (a sync and a CLI run, or parallel
    test workers) would otherwise both run `dbt parse` into the same target folder."""
    import fcntl

    target = dbt_project.project_dir / dbt_project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():
            # What dagster-dbt's preparer runs, with our dbt executable: the preparer looks
            # for `dbt` on PATH, which a virtualenv that is not activated does not provide.
            from dagster_dbt import DbtCliResource

            DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE).cli(
                ["parse", "--quiet"], target_path=dbt_project.target_path
            ).wait()
    return dbt_project.manifest_path
