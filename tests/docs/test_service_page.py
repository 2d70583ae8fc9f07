"""The service page's table of variables is the serve command's flags, no more and no less."""

from __future__ import annotations

import re

from mockserver import cli
from mockserver.control.access import OPEN_PATHS
from mockserver.environ import long_option, variables
from tests.support import REPO_ROOT, assert_names_existing_tests, markdown_rows

PAGE = REPO_ROOT / "docs" / "service.md"
CODE = re.compile(r"`([^`]+)`")


def variable_rows() -> list[list[str]]:
    return markdown_rows(PAGE.read_text(encoding="utf-8"), 5, "Variable")


def test_every_serve_flag_has_its_row_and_every_row_a_flag() -> None:
    served = {
        name: long_option(action)
        for name, action in variables(cli.serve_subparser(cli.parser())).items()
    }
    documented: dict[str, str] = {}
    for variable, flag, value, default, meaning in variable_rows():
        (name,) = CODE.findall(variable)
        assert name not in documented, f"{name} has two rows"
        documented[name] = CODE.findall(flag)[0]
        assert value and default and meaning, f"{name}: an empty cell"
    missing = sorted(set(served) - set(documented))
    unknown = sorted(set(documented) - set(served))
    assert not missing, f"serve flags without a row in docs/service.md: {missing}"
    assert not unknown, f"docs/service.md names variables serve does not read: {unknown}"
    assert documented == served  # each row names its variable's own flag


def test_the_open_routes_table_is_the_gate_s() -> None:
    rows = markdown_rows(PAGE.read_text(encoding="utf-8"), 2, "Route")
    routes = {CODE.findall(route)[0].removeprefix("GET ") for route, _ in rows}
    assert routes == OPEN_PATHS


def test_the_tests_the_page_names_exist() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if "`tests/" in line:
            assert_names_existing_tests(line[:60], line)
