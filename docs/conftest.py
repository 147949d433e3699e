"""pytest collects the ``>>>`` examples of the documentation pages as doctests.

Only the hand-written pages: the build outputs and generated pages are skipped,
and so is ``conf.py`` (importing it writes the API index).
"""

from _pytest.doctest import DoctestTextfile

collect_ignore = ["conf.py"]
collect_ignore_glob = ["_build/*", "auto_examples/*", "gen_modules/*", "api/*", "_templates/*"]


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".rst":
        return DoctestTextfile.from_parent(parent, path=file_path)
    return None
