"""The results folder: checksummed result rows and the manifest of what produced them.

``results.csv`` has one row per finished cell; its last column, ``crc``, is the
CRC-32 of the rest of the line, so a row cut by a killed run (or damaged
later) is told from a finished one. ``manifest.json`` records the inputs
that determine every row (data identity, testbed settings, MLP settings, N
of the Best-of-N, library version) and the grids run into the folder.
"""

import csv
import io
import json
import os
import time
import zlib
from pathlib import Path

RESULTS = "results.csv"
MANIFEST = "manifest.json"
CHECKSUM = "crc"
# What a run writes into its folder; ``fresh=True`` moves these aside.
OUTPUTS = (RESULTS, MANIFEST, "report.md", "fig1_models.png", "fig2_error_rate.png",
           "fig3_n_pairs.png", "fig4_pairing.png", "fig5_similar_diverse.png", "fig6_delta.png",
           "fig_best_of_n_curve.png")
# Manifest entries that determine the numbers of a cell: a run must match them to resume.
INPUTS = ("skreward_version", "data", "n_eval", "mlp", "ensemble", "best_of_n")


def check_folder(output):
    """``output`` as a Path, refusing a path that names something other than a folder."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"output must be a folder; {str(output)!r} is a file.")
    return output


def _checksum(body):
    return f"{zlib.crc32(body.encode()):08x}"


def _line(values):
    """One CSV line (without its newline) of ``values``, followed by their checksum."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    body = buffer.getvalue()
    return f"{body},{_checksum(body)}"


def _parse(text):
    """Header and the verified rows of a results file's text, and whether it was all clean.

    A file without the ``crc`` column (written before rows were checksummed)
    is read as it was then: rows with every field present.
    """
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].endswith("\n"):
        return None, [], not text
    header = next(csv.reader([lines[0]]))
    if header[-1] != CHECKSUM:  # an older file: no checksums to verify
        rows = [row for row in csv.DictReader(io.StringIO(text))
                if None not in row.values() and None not in row and row.get("model")]
        return header, rows, False
    rows, seen, clean = [], set(), text.endswith("\n")
    for line in lines[1:]:
        body, _, checksum = line.rstrip("\r\n").rpartition(",")
        values = next(csv.reader([body]), [])
        row = dict(zip(header[:-1], values))
        key = tuple(row.get(k) for k in ("model", "beta", "n_pairs", "pairing", "seed", "link"))
        if checksum != _checksum(body) or len(values) != len(header) - 1 or key in seen:
            clean = False
            continue
        seen.add(key)
        rows.append(row)
    return header, rows, clean


def read_results(path):
    """The finished rows of a results file, as dicts of strings (none if there is no file).

    Rows whose checksum does not match (a line cut by a killed run, or
    damaged since) and repeated cells are left out.
    """
    path = Path(path)
    if not path.is_file():
        return []
    return _parse(path.read_text())[1]


def is_older_format(path):
    """Whether ``path`` is a results file with a header but no ``crc`` column (older skreward)."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open(newline="") as file:
        line = file.readline()
    return line.endswith("\n") and next(csv.reader([line]))[-1] != CHECKSUM


def clean_results(path):
    """Drop incomplete, damaged or repeated rows from a results file; returns how many.

    The file is rewritten whole (through a temporary file, so a kill during
    the rewrite leaves the old file) only when it is not clean.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    text = path.read_text()
    header, rows, clean = _parse(text)
    if clean:
        return 0
    n_lines = max(len(text.splitlines()) - 1, 0)
    if header is None:
        path.unlink()
        return n_lines
    _write_atomic(path, _header_line(header[:-1]) + "".join(
        _line([row[k] for k in header[:-1]]) + "\n" for row in rows))
    return n_lines - len(rows)


def _header_line(columns):
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow([*columns, CHECKSUM])
    return head.getvalue()


def append_result(path, row):
    """Append one checksummed row, as one write, so a killed run loses at most that cell."""
    path = Path(path)
    if path.is_file() and path.stat().st_size:
        with path.open(newline="") as file:
            header = next(csv.reader([file.readline()]))[:-1]
    else:
        header = list(row)
        path.write_text(_header_line(header))
    missing = set(header) ^ set(row)
    if missing:
        raise ValueError(f"result row and {path.name} differ in columns {sorted(missing)}.")
    with path.open("a", newline="") as file:
        file.write(_line([row[k] for k in header]) + "\n")
        file.flush()


def _write_atomic(path, text):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _normal(value):
    """``value`` as JSON would give it back (tuples as lists), to compare recorded inputs."""
    return json.loads(json.dumps(value))


def read_manifest(output):
    """The manifest of a results folder, or None."""
    path = Path(output) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); start afresh with fresh=True "
                         "(--fresh) or use another output folder.") from None


def prepare_folder(output, manifest, fresh=False):
    """Make ``output`` ready for a run described by ``manifest``; returns the results path.

    A folder whose results were produced by other inputs (see ``INPUTS``) is
    refused, naming both, unless ``fresh``: then the files of the earlier run
    are moved into a ``replaced-<time>`` subfolder. A folder with results but
    no manifest (an older skreward) is refused too. Incomplete rows are
    dropped from the results file.
    """
    output = check_folder(output)
    output.mkdir(parents=True, exist_ok=True)
    results = output / RESULTS
    manifest = _normal(manifest)
    if fresh:
        _move_aside(output)
    if is_older_format(results):
        raise ValueError(f"{results} has no row checksums (written by an older skreward), so "
                         "its rows cannot be verified; start afresh with fresh=True (--fresh) "
                         "or use another output folder.")
    has_rows = bool(read_results(results))
    old = read_manifest(output)
    if has_rows and old is None:
        raise ValueError(f"{results} has no {MANIFEST}, so the inputs of its results are "
                         "unknown; start afresh with fresh=True (--fresh) or use another "
                         "output folder.")
    if has_rows:
        differ = [key for key in INPUTS if old.get(key) != manifest[key]]
        if differ:
            lines = "; ".join(f"{key}: recorded {json.dumps(old.get(key))}, "
                              f"this run {json.dumps(manifest[key])}" for key in differ)
            raise ValueError(f"output folder {str(output)!r} holds results of other inputs "
                             f"({lines}). Use another output folder, or start afresh with "
                             "fresh=True (--fresh), which moves the earlier files into a "
                             "'replaced-<time>' subfolder.")
        manifest["grid"] = old.get("grid", []) + [
            part for part in manifest["grid"] if part not in old.get("grid", [])]
    clean_results(results)
    _write_atomic(output / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return results


def _move_aside(output):
    present = [name for name in OUTPUTS if (output / name).exists()]
    if not present:
        return None
    folder = output / time.strftime("replaced-%Y%m%d-%H%M%S")
    suffix = 0
    while folder.exists():
        suffix += 1
        folder = output / time.strftime(f"replaced-%Y%m%d-%H%M%S-{suffix}")
    folder.mkdir()
    for name in present:
        os.replace(output / name, folder / name)
    return folder
