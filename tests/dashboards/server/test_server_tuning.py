"""What the server changes in Bokeh's behaviour for speed (dashboards.server.app) changes no answer: each
model class's cached default overrides equal Bokeh's own merge, for every class, also one made after the
cache; the development checks are off unless the environment asks for them. Each runs in a fresh Python,
since the changes are process-wide."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(code: str, **env: str) -> str:
    """Run `code` in a fresh Python, with the environment less Bokeh's settings, plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BOKEH_")}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**base, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cached_default_overrides_equal_bokehs_own_for_every_model_class():
    out = run("""
        import panel as pn, panel.models, bokeh.models
        from bokeh.core.has_props import HasProps
        from bokeh.core.properties import Override
        from bokeh.models import Plot
        from dashboards.server.app import cache_bokeh_default_overrides

        def every(cls):
            for sub in cls.__subclasses__():
                yield sub
                yield from every(sub)

        classes = set(every(HasProps))
        before = {cls: cls._overridden_defaults() for cls in classes}
        assert cache_bokeh_default_overrides() is True
        assert cache_bokeh_default_overrides() is True        # twice: still the one cache
        assert all(cls._overridden_defaults() == before[cls] for cls in classes)
        assert all(cls._overridden_defaults() == before[cls] for cls in classes)   # from the cache

        class Later(Plot):                                     # a class made after the cache
            height = Override(default=123)
        assert Later._overridden_defaults()["height"] == 123 and Later().height == 123 and Plot().height == 600
        print(len(classes))
    """)
    assert int(out) > 300   # Bokeh's and Panel's model classes were all compared


def test_development_checks_are_off_unless_the_environment_asks_for_them():
    code = """
        from bokeh.settings import settings
        from dashboards.server.app import skip_development_checks
        skip_development_checks()
        print(settings.perform_document_validation(), settings.perform_error_diagnostics())
    """
    assert run(code) == "False False"
    assert run(code, BOKEH_VALIDATE_DOC="true") == "True False"
