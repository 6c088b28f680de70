"""The migration runner: each numbered file once, in order, recorded; edits and strangers refused."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from akig_data import migrations


@pytest.fixture()
def empty_engine(databases):
    name = databases.create("mig")
    engine = sa.create_engine(databases.url(name), poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()
    databases.drop(name)


def test_upgrade_applies_every_file_once(empty_engine):
    names = [m.name for m in migrations.discover()]
    assert migrations.current_version(empty_engine) is None
    assert migrations.upgrade(empty_engine) == names
    assert migrations.upgrade(empty_engine) == []
    assert migrations.current_version(empty_engine) == migrations.discover()[-1].version
    assert set(migrations.applied(empty_engine)) == {m.version for m in migrations.discover()}


def test_an_edited_migration_is_refused(empty_engine, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(migrations.SQL_DIR, sql_dir)
    migrations.upgrade(empty_engine, sql_dir)
    first = sorted(sql_dir.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(migrations.MigrationError, match="was changed after it was applied"):
        migrations.upgrade(empty_engine, sql_dir)


def test_a_new_file_is_applied_and_a_failing_one_leaves_no_trace(empty_engine, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(migrations.SQL_DIR, sql_dir)
    migrations.upgrade(empty_engine, sql_dir)
    (sql_dir / "900_extra.sql").write_text("CREATE TABLE extra (id int); -- 50 % of a comment\n")
    assert migrations.upgrade(empty_engine, sql_dir) == ["900_extra.sql"]
    (sql_dir / "901_broken.sql").write_text("CREATE TABLE half (id int);\nSELECT * FROM nowhere;\n")
    with pytest.raises(migrations.MigrationError, match="901_broken.sql failed and was rolled back"):
        migrations.upgrade(empty_engine, sql_dir)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('half')")).scalar() is None
    assert 901 not in migrations.applied(empty_engine)


def test_the_database_knowing_more_than_the_code_is_refused(empty_engine, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(migrations.SQL_DIR, sql_dir)
    (sql_dir / "900_extra.sql").write_text("SELECT 1;\n")
    migrations.upgrade(empty_engine, sql_dir)
    with pytest.raises(migrations.MigrationError, match="does not know"):
        migrations.upgrade(empty_engine)


@pytest.mark.parametrize("name", ["1_short.sql", "002-dash.sql", "003_Upper.sql"])
def test_badly_named_files_are_refused(tmp_path, name):
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="NNN_lowercase_name.sql"):
        migrations.discover(tmp_path)


def test_two_files_with_one_number_are_refused(tmp_path):
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="already used"):
        migrations.discover(tmp_path)
