"""A frame's header cards, checked before they go into a product (``docs/formats.md``, "Item 0").

The cards a frame carries are 80-character ASCII FITS cards without END, and without the keywords the ground
writes itself: the structural ones (SIMPLE, XTENSION, BITPIX, NAXIS, NAXISn, EXTEND, PCOUNT, GCOUNT, END, which
flight strips) and the product's status cards (AFSTATUS, AFFRAME, AFPLANE). A frame whose cards break this would be
written as a FITS file that reads back as other pixels or another status, so the ground calls it ``corrupt``
with the reason (:func:`check_cards`); every product is read back before it is put in place
(``ground.products``).
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from flight.errors import FormatError

CARD = 80  # FITS card length (FITS 4.0, section 4.1)
#: Keywords the product writes itself (structure and status); a frame carrying one of them is corrupt.
RESERVED = frozenset({"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "END",
                      "AFSTATUS", "AFFRAME", "AFPLANE"})
_NAXIS_N = re.compile(r"NAXIS\d+")


def check_cards(cards: str):
    """The cards as an ``astropy.io.fits.Header``; FormatError naming the first bad card (1-based) otherwise.

    Refused: a length that is not a whole number of cards, a character outside printable ASCII (0x20-0x7E), a
    reserved keyword (:data:`RESERVED`, NAXISn), and a card astropy cannot put into a header (a malformed
    CONTINUE). Cards that are merely not FITS-standard but that astropy writes back verbatim (``GAIN.SPE = 4``,
    ``X = NAN`` in real files) are kept: the product holds the header as it was captured.
    """
    from astropy.io import fits

    if len(cards) % CARD:
        raise FormatError(f"header cards: {len(cards)} characters is not a whole number of {CARD}-character cards")
    for start in range(0, len(cards), CARD):
        card = cards[start : start + CARD]
        if not all(" " <= ch <= "~" for ch in card):
            raise FormatError(f"header card {start // CARD + 1}: character outside printable ASCII")
        keyword = card[:8].rstrip().upper()
        if keyword in RESERVED or _NAXIS_N.fullmatch(keyword):
            raise FormatError(f"header card {start // CARD + 1}: reserved keyword {keyword} (the product writes it)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-standard cards warn; they are kept as they are
        try:
            parsed = fits.Header.fromstring(cards)
        except Exception as exc:  # astropy raises several types (ValueError, VerifyError, ...)
            raise FormatError(f"header cards do not parse: {_last_line(exc)}") from None
        header = fits.Header()
        for index, card in enumerate(parsed.cards, 1):
            try:
                header.append(card, end=True)
                _ = card.image  # what writing the product formats: a malformed CONTINUE fails here
            except Exception as exc:
                raise FormatError(f"header card {index} ({card.keyword}): {_last_line(exc)}") from None
    return parsed


@lru_cache(maxsize=256)
def cards_problem(cards: str) -> str:
    """Why :func:`check_cards` refuses ``cards`` ("" when it accepts them); memoised, since the ground asks again
    each time a frame's result is recomputed and simulated frames repeat a few headers."""
    try:
        check_cards(cards)
    except FormatError as exc:
        return str(exc)
    return ""


def _last_line(exc: BaseException) -> str:
    """The meaningful line of an astropy message (its verification reports end with boilerplate)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "zero-based" not in line]
    return lines[-1] if lines else type(exc).__name__
