"""The citizen ID card (CCCD / thẻ căn cước) read from a photo of its QR code: decode, then parse strictly.

A bot basic with no flow knowledge: `read_card(data, today)` gives the card's fields or says why it could
not, so the dialogue can give one specific hint. Nothing here keeps the photo or logs what the card says.
"""

from __future__ import annotations

from bot.idcard.decode import Decoded, decode
from bot.idcard.payload import FIELDS, Card, CardError, parse

__all__ = ["FIELDS", "Card", "CardError", "Decoded", "decode", "parse"]
