"""What the data_tier tests share besides tests/molecule_helpers.py: the hosts, psql as the app and as postgres."""
import shlex

import pytest
from molecule_helpers import node, target

APP_PASSWORD = "molecule-app-password"
PGB = target("mol-pgb")
PRIMARY = target("mol-db-primary")


@pytest.fixture(scope="session")
def primary():
    return node("mol-db-primary")


@pytest.fixture(scope="session")
def replica():
    return node("mol-db-replica")


@pytest.fixture(scope="session")
def pgb():
    return node("mol-pgb")


def psql(host, sql, port=6432, db="koinonia", server="127.0.0.1", password=APP_PASSWORD):
    """Run one statement with the real psql client; returns the CommandResult."""
    return host.run(
        f"PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -X -h {server} -p {port} -U koinonia -d {db} -Atc "
        + shlex.quote(sql)
    )


def local_sql(host, sql, db="koinonia"):
    """Run one statement as the postgres superuser over the local socket."""
    return host.run("runuser -u postgres -- psql -XAtd " + shlex.quote(db) + " -c " + shlex.quote(sql))
