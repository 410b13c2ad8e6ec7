"""Every module declares its public surface, and every name it declares exists."""

import importlib
import pkgutil

import pytest

import berth

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(berth.__path__, "berth.")
    if ".migrations" not in info.name and not info.ispkg
)


def test_version_is_public() -> None:
    assert berth.__all__ == ["__version__"]
    assert berth.__version__


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert isinstance(declared, list), f"{name} has no __all__"
    missing = [item for item in declared if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
