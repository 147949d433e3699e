"""Makes ``docs`` a package for pytest only, so that ``docs/conftest.py`` and
``tests/conftest.py`` import under different names (doctest collection needs it)."""
