"""The documentation site, built once per session for the tests that read or browse it."""

from __future__ import annotations

import pytest

from tests.docs.site import BuiltSite, build


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return build(tmp_path_factory.mktemp("site") / "site")
