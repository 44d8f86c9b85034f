"""The `lang` parameter: language preferences and the choice of one string from a LanguageProperty."""

from __future__ import annotations

from typing import Any


def parse_lang(value: str | None) -> list[str] | None:
    """Language tags in order of preference from "ja", "en,ja;q=0.5" style values; None for absent or "*"."""
    if value is None:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(value.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag:
            continue
        if tag == "*":
            return None  # "*" asks for every language: the LanguageProperty as stored
        quality = 1.0
        for param in params.split(";"):
            name, _, raw = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)] or None


def choose_language(language_map: dict[str, Any], preferences: list[str]) -> tuple[str, Any]:
    """(tag, text) for the first preferred language present, else "@none", else the first entry."""
    lowered = {tag.lower(): tag for tag in language_map}
    for wanted in preferences:
        exact = lowered.get(wanted.lower())
        if exact is not None:
            return exact, language_map[exact]
        # "en" is satisfied by "en-GB" (RFC 4647 lookup, in the other direction as well).
        for low, tag in lowered.items():
            if low.startswith(wanted.lower() + "-") or wanted.lower().startswith(low + "-"):
                return tag, language_map[tag]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    first = next(iter(language_map))
    return first, language_map[first]
