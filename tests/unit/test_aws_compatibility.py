"""docs/aws-compatibility.md lists every ECR operation botocore knows, each working one with a
test that exists."""

import re
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "aws-compatibility.md"
ROW = re.compile(r"^\| ([A-Za-z]+) \| ([^|]+) \|\s*([^|]*?)\s*\|$")


def _rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line.strip())
        if match and match.group(1) != "Operation":
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def _test_names() -> set[str]:
    names = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names |= set(re.findall(r"^def (test_\w+)\(", path.read_text(), re.MULTILINE))
    return names


def test_every_ecr_operation_is_listed() -> None:
    model = botocore.session.get_session().get_service_model("ecr")
    assert set(model.operation_names) - set(_rows()) == set()
    newer = set(_rows()) - set(model.operation_names)
    assert all(_rows()[name][0].startswith("not yet") for name in newer)


def test_every_working_operation_names_a_test_that_exists() -> None:
    tests = _test_names()
    for operation, (state, proof) in _rows().items():
        assert state.startswith(("works", "not yet")), operation
        if state.startswith("works"):
            assert proof in tests, f"{operation}: no test named {proof!r}"
        else:
            assert proof == "", operation
