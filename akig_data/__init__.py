"""AKIG's data layer: PostgreSQL views and functions turned into typed, Redis-memoized pandas reads.

Nothing here imports Panel: the dashboards, the CLI and the notebooks all call the same functions.

    from akig_data import reads
    reads.arrears_by_site(as_of=date(2026, 6, 30), owner_ref="OWN-001")
"""

from akig_data.errors import AkigError, DatabaseUnavailable, InvalidParameter
from akig_data.runtime import configure, get_runtime

__all__ = ["AkigError", "DatabaseUnavailable", "InvalidParameter", "configure", "get_runtime"]
