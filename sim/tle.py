"""Two-line element sets (TLE): read a two- or three-line file, verify each line's checksum, read the epoch.

The format is NORAD's (CelesTrak, "FAQs: Two-Line Element Set Format", and Vallado et al. 2006, "Revisiting
Spacetrack Report #3", AIAA 2006-6753): 69 columns a line; column 69 is a checksum, the sum of the digits of
columns 1-68 plus one for every minus sign, modulo 10 (letters, spaces, periods and plus signs count 0). The
epoch is columns 19-32 of line 1: two-digit year (57-99 -> 19xx, 00-56 -> 20xx) and day of the year with its
fraction (day 1.0 = 1 January 00:00 UTC). An optional first line (three-line form) is the satellite's name.

Errors are :class:`sim.scenario.ScenarioError`-compatible: :class:`TleError` is an ``InputError`` with one line
naming the file (or key) and the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flight.errors import InputError

TLE_LINE_LENGTH = 69  # columns per line, the last one the checksum (Spacetrack Report #3)


class TleError(InputError):
    """A TLE that cannot be used: one line naming where (file and line) and why."""


@dataclass(frozen=True)
class Tle:
    """One element set: its name ('' in the two-line form), both lines (stripped) and the epoch (aware UTC)."""

    name: str
    line1: str
    line2: str
    epoch: datetime

    @property
    def epoch_iso(self) -> str:
        """The epoch as ``orbit.epoch`` writes it (:func:`iso_utc`)."""
        return iso_utc(self.epoch)


def iso_utc(dt: datetime) -> str:
    """ISO 8601 UTC with a Z: to the microsecond, or to the second when that is exact."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def tle_checksum(line: str) -> int:
    """The mod-10 checksum of a TLE line's first 68 columns: digits count their value, '-' counts 1."""
    return sum(int(c) if c.isdigit() else 1 if c == "-" else 0 for c in line[:68]) % 10


def check_line(line: str, number: int, where: str) -> str:
    """``line`` (TLE line ``number``, 1 or 2) stripped of trailing blanks, its form and checksum verified.

    Raises TleError: ``"{where}: TLE line {number} ..."`` for a wrong first column, a short line or a checksum
    that does not match column 69.
    """
    text = line.rstrip()
    if not text.startswith(f"{number} "):
        raise TleError(f"{where}: TLE line {number} must start with '{number} ' (got {text[:12]!r})")
    if len(text) < TLE_LINE_LENGTH:
        raise TleError(f"{where}: TLE line {number} has {len(text)} columns, expected {TLE_LINE_LENGTH}")
    if len(text) > TLE_LINE_LENGTH:
        raise TleError(f"{where}: TLE line {number} has {len(text)} columns, expected {TLE_LINE_LENGTH}")
    if not text[68].isdigit():
        raise TleError(f"{where}: TLE line {number} column 69 must be the checksum digit (got {text[68]!r})")
    want = tle_checksum(text)
    if int(text[68]) != want:
        raise TleError(f"{where}: TLE line {number} checksum is {text[68]}, the line sums to {want} "
                       "(mod 10 of its digits, '-' counting 1): a mistyped or corrupted line")
    return text


def tle_epoch(line1: str, where: str = "TLE") -> datetime:
    """The epoch of a (checked) line 1, columns 19-32, as an aware UTC datetime."""
    field = line1[18:32]
    try:
        yy, day = int(field[:2]), float(field[2:])
    except ValueError:
        raise TleError(f"{where}: TLE line 1 epoch (columns 19-32) {field!r} is not YYDDD.DDDDDDDD") from None
    if not 1.0 <= day < 367.0:
        raise TleError(f"{where}: TLE line 1 epoch day {day:g} is not a day of the year (1 to 366.99...)")
    year = 1900 + yy if yy >= 57 else 2000 + yy
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=day - 1.0)


def parse_tle(text: str, where: str) -> Tle:
    """A TLE from the text of a two- or three-line file (blank lines ignored); raises TleError naming ``where``.

    A file with more than one element set is refused (the simulator flies one spacecraft).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) == 3:
        name, body = lines[0].strip(), lines[1:]
        if name.startswith("0 "):
            name = name[2:].strip()  # CelesTrak's "0 NAME" form of the title line
    elif len(lines) == 2:
        name, body = "", lines
    else:
        raise TleError(f"{where}: expected a two- or three-line TLE (name, line 1, line 2), got {len(lines)} "
                       "non-blank lines")
    line1 = check_line(body[0], 1, where)
    line2 = check_line(body[1], 2, where)
    if line1[2:7] != line2[2:7]:
        raise TleError(f"{where}: TLE lines 1 and 2 are of different satellites ({line1[2:7].strip()} and "
                       f"{line2[2:7].strip()})")
    return Tle(name, line1, line2, tle_epoch(line1, where))


def read_tle_file(path: str | Path) -> Tle:
    """The TLE in the file at ``path``; TleError naming the file for a missing, unreadable or malformed one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TleError(f"TLE file {p}: not found") from None
    except IsADirectoryError:
        raise TleError(f"TLE file {p}: is a folder") from None
    except UnicodeDecodeError:
        raise TleError(f"TLE file {p}: not text (not UTF-8)") from None
    except OSError as exc:
        raise TleError(f"TLE file {p}: cannot read ({exc.strerror})") from None
    return parse_tle(text, f"TLE file {p}")


def looks_like_tle(text: str) -> bool:
    """Whether ``text`` looks like a TLE rather than TOML: a line starting '1 ' followed by one starting '2 '."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return any(a.startswith("1 ") and b.startswith("2 ") for a, b in zip(lines, lines[1:], strict=False))
