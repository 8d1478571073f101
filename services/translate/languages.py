"""Language codes: one spelling for every code the API, Apertium and DeepL use.

The API speaks ISO 639-1 (``en``, ``es``). Apertium names its pairs with ISO 639-3 codes in
newer packages (``eng-spa``) and ISO 639-1 in older ones (``fr-es``); DeepL uses upper case with
regional variants for some targets (``EN-US``). :func:`normalize` maps all of them to the
ISO 639-1 code where one exists, and keeps the three-letter code where none does (Asturian is
``ast``).
"""

from __future__ import annotations

from parley.errors import InvalidInput, quoted

# ISO 639-3 (and 639-2/B) codes of the languages Apertium and DeepL ship, to ISO 639-1.
_TO_639_1 = {
    "afr": "af",
    "ara": "ar",
    "arg": "an",
    "bel": "be",
    "bre": "br",
    "bul": "bg",
    "cat": "ca",
    "ces": "cs",
    "cym": "cy",
    "dan": "da",
    "deu": "de",
    "ell": "el",
    "eng": "en",
    "epo": "eo",
    "est": "et",
    "eus": "eu",
    "fin": "fi",
    "fra": "fr",
    "fre": "fr",
    "glg": "gl",
    "heb": "he",
    "hin": "hi",
    "hun": "hu",
    "ind": "id",
    "isl": "is",
    "ita": "it",
    "jpn": "ja",
    "kor": "ko",
    "lav": "lv",
    "lit": "lt",
    "mkd": "mk",
    "nld": "nl",
    "nno": "nn",
    "nob": "nb",
    "nor": "no",
    "oci": "oc",
    "pol": "pl",
    "por": "pt",
    "ron": "ro",
    "rus": "ru",
    "slk": "sk",
    "slv": "sl",
    "spa": "es",
    "srd": "sc",
    "swe": "sv",
    "tur": "tr",
    "ukr": "uk",
    "urd": "ur",
    "zho": "zh",
    "zlm": "ms",
}

Pair = tuple[str, str]


def normalize(code: str) -> str:
    """The one spelling of a language code: ``ENG``, ``en`` and ``en-US`` all give ``en``.

    Region and script subtags are dropped (the router works per language). An unknown
    three-letter code is kept as it is, lower case.
    """
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return _TO_639_1.get(primary, primary)


def is_code(code: str) -> bool:
    """True if ``code`` looks like a language code (two or three ASCII letters)."""
    return 2 <= len(code) <= 3 and code.isascii() and code.isalpha()


def requested(code: str, what: str) -> str:
    """Normalizes a code from a request.

    Args:
        code: as the caller sent it.
        what: the request field, for the error message.

    Raises:
        InvalidInput: if the code is empty or not a language code.
    """
    if not code.strip():
        raise InvalidInput(f"{what} is empty: give an ISO 639-1 code such as 'en'")
    normalized = normalize(code)
    if not is_code(normalized):
        raise InvalidInput(f"{what} {quoted(code)} is not an ISO 639-1 language code such as 'en'")
    return normalized


def pair_name(pair: Pair) -> str:
    """``en>es`` for a pair."""
    return f"{pair[0]}>{pair[1]}"
