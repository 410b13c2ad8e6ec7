import re

import botocore.session

from berth.api.ecr.dispatch import OPERATIONS
from berth.api.ecr.unsupported import not_built

MODEL = botocore.session.get_session().get_service_model("ecr")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_operation_botocore_knows_is_in_the_table() -> None:
    assert set(MODEL.operation_names) <= set(OPERATIONS)
    # Operations from newer botocore releases than the installed one are listed, never built.
    newer = set(OPERATIONS) - set(MODEL.operation_names)
    assert all(OPERATIONS[name] is not_built for name in newer)


def test_each_built_operation_is_its_snake_case_function() -> None:
    for name, handler in OPERATIONS.items():
        if handler is not not_built:
            assert handler.__name__ == _snake(name), name
