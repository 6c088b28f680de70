"""The agents' phone app's server side without a server: its Content-Security-Policy, the shell's
version, and the French words of its forms (the desk's own)."""

from __future__ import annotations

import json
from pathlib import Path

from dashboards.server import agent_app

APP = Path(agent_app.__file__).resolve().parents[1] / "agent_app"


def test_the_policy_names_the_tiles_origin_only_when_tiles_are_on():
    assert "img-src 'self' data:;" in agent_app.content_security_policy("off")
    assert "img-src 'self' data:;" in agent_app.content_security_policy("/tiles/{Z}/{X}/{Y}.png")
    assert "img-src 'self' data: https://*.tile.example.org;" in agent_app.content_security_policy(
        "https://{s}.tile.example.org/{Z}/{X}/{Y}.png")


def test_the_labels_are_the_desks():
    from dashboards import labels_fr
    from akig_data.writes import collection

    source = (APP / "format.js").read_text()
    for code, label in labels_fr.OUTCOME.items():
        assert f'{code}: "{label}"' in source, code
    for name, values in (("CALL_OUTCOMES", collection.CALL_OUTCOMES), ("VISIT_OUTCOMES", collection.VISIT_OUTCOMES),
                         ("METHODS", collection.METHODS)):
        assert f"export const {name} = {json.dumps(list(values))};" in source, name


def test_the_shell_version_changes_with_any_file(tmp_path):
    for name in ("index.html", "app.js", "sw.js"):
        (tmp_path / name).write_text(f"// {name} {{{{shell_version}}}}\n")
    shell = agent_app.Shell(tmp_path)
    before = shell.files()["sw.js"].body
    assert shell.version.encode() in before and b"{{shell_version}}" not in before
    assert shell.files()["app.js"].body.endswith(b"{{shell_version}}\n")   # only the worker carries it
    (tmp_path / "app.js").write_text("// changed\n")
    after = shell.files()["sw.js"].body
    assert after != before and shell.version.encode() in after


def test_the_package_ships_the_app():
    assert (agent_app.app_folder() / "index.html").is_file() and agent_app.app_folder() == APP
