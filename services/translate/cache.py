"""A bounded cache of recent translations, least recently used out first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class TranslationCache:
    """Maps a key (route and text) to its translation, holding at most ``size`` entries.

    Used from the event loop only, so it needs no lock.

    Args:
        size: most entries kept; 0 keeps none.
        max_entry_chars: longest translation kept; longer ones (documents rather than
            utterances) are rarely asked again and would make the memory bound loose.
    """

    def __init__(self, size: int, max_entry_chars: int = 2_000) -> None:
        self.size = size
        self.max_entry_chars = max_entry_chars
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> str | None:
        """The cached translation, or None; a hit becomes the most recent entry."""
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: str) -> None:
        """Stores a translation, dropping the least recently used entry when full."""
        if self.size <= 0 or len(value) > self.max_entry_chars:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
