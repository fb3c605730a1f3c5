import os
import shlex

import pytest
import testinfra

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
APP_PASSWORD = "molecule-app-password"
PGB = f"ansible://mol-pgb?ansible_inventory={INVENTORY}"
PRIMARY = f"ansible://mol-db-primary?ansible_inventory={INVENTORY}"


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


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


def flat(text):
    """Output with line wrapping folded away, for substring checks."""
    return " ".join(text.split())
