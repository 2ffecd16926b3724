"""The runnable examples in the package's docstrings run and print what they say."""
import doctest
import importlib
import pkgutil

import pytest

import softfact

MODULES = sorted(m.name for m in pkgutil.walk_packages(softfact.__path__, "softfact.")
                 if not m.name.startswith("softfact.cli") and m.name != "softfact.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
