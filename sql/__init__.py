"""The migrations, NNN_name.sql, applied in order by akig_data.migrations. This folder stays at the top of
the repository and is installed as the package akig_data.sql (pyproject.toml maps it), so an installed AKIG
carries its migrations: importlib.resources.files("akig_data.sql") finds them, editable install or wheel."""
