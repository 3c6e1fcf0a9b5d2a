"""Keys sent the way a slow link delivers them: all at once, with no wait between them."""

from __future__ import annotations

import unicodedata

from textual import events
from textual.app import App
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key


def key_event(key: str) -> events.Key:
    """The Key event a terminal driver makes for ``key`` (a character or a key name), as
    Textual's Pilot makes it."""
    if len(key) == 1 and not key.isalnum():
        key = _character_to_key(key)
    try:
        name = _get_unicode_name_from_key(REPLACED_KEYS.get(key, key))
        char: str | None = unicodedata.lookup(name)
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


def burst(app: App, *keys: str) -> None:
    """Post every key to ``app`` now, as one read from the terminal would."""
    for key in keys:
        app.post_message(key_event(key))
