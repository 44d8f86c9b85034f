"""Compiled JSON-LD term maps: term <-> IRI in O(1), built once per @context, with the core context last."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from cityos_runtime.problems import ProblemError

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
NGSILD_PREFIX = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_CONTEXT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
_CORE_FILE = "ngsi-ld-core-context-v1.9.jsonld"
# JSON-LD 1.1: a simple term whose IRI ends with a gen-delim may serve as a prefix of compact IRIs.
_GEN_DELIMS = frozenset(":/?#[]@")
_TYPE_KEYWORDS = frozenset({"@id", "@vocab", "@json", "@none"})
# Expand / compact results are memoised per TermMap; the bound keeps hostile input from growing it forever.
_MEMO_LIMIT = 20_000
# Expands a value against the context being compiled, given the terms already on the resolution stack.
_IriOf = Callable[[str, frozenset[str]], str]


@dataclass(frozen=True, slots=True)
class TermDefinition:
    """One compiled term: its IRI (or keyword) and optional @type coercion / @container."""

    iri: str
    type_mapping: str | None = None
    container: str | None = None
    prefix: bool = False


class TermMap:
    """Term <-> IRI maps compiled once from an @context (user contexts first, the core context last)."""

    __slots__ = (
        "_compact_memo",
        "_context_value",
        "_defs",
        "_expand_memo",
        "_prefixes",
        "_reverse",
        "_vocab",
    )

    def __init__(self, definitions: dict[str, TermDefinition], vocab: str, context_value: object) -> None:
        self._defs = definitions
        self._vocab = vocab
        self._context_value = context_value
        self._expand_memo: dict[str, str] = {}
        self._compact_memo: dict[str, str] = {}
        reverse: dict[str, str] = {}
        for term, definition in definitions.items():
            if definition.iri.startswith("@"):
                continue
            best = reverse.get(definition.iri)
            # JSON-LD term selection: the shortest term wins, ties broken by code point order.
            if best is None or (len(term), term) < (len(best), best):
                reverse[definition.iri] = term
        self._reverse = reverse
        self._prefixes = sorted(
            ((d.iri, t) for t, d in definitions.items() if d.prefix and ":" not in t),
            key=lambda item: -len(item[0]),
        )

    @classmethod
    def compile(cls, contexts: list[dict[str, Any]], context_value: object = None) -> TermMap:
        """Compile resolved local contexts (dicts, in order) plus the core context into a term map."""
        active: dict[str, TermDefinition] = {}
        vocab = DEFAULT_CONTEXT_VOCAB
        for local in contexts:
            if local is _core_local():
                active.update(_core_definitions())
                vocab = DEFAULT_CONTEXT_VOCAB
                continue
            vocab = _compile_local(active, vocab, local)
        # The core context is applied last and is @protected: its terms always win.
        active.update(_core_definitions())
        return cls(active, DEFAULT_CONTEXT_VOCAB, context_value)

    @property
    def context_value(self) -> object:
        """What a response's @context member holds: the caller's context (URL, list, object) or core URL."""
        return CORE_CONTEXT_URL if self._context_value is None else self._context_value

    @property
    def link_url(self) -> str:
        """The URL for a response Link header: the caller's single context URL, else the core URL."""
        return self._context_value if isinstance(self._context_value, str) else CORE_CONTEXT_URL

    @property
    def vocab(self) -> str:
        """The active @vocab IRI (the NGSI-LD default context)."""
        return self._vocab

    def definition(self, term: str) -> TermDefinition | None:
        """The compiled definition of a term, if any."""
        return self._defs.get(term)

    def expand(self, term: str) -> str:
        """Expand an attribute or type name to its IRI (absolute IRIs and keywords pass through)."""
        hit = self._expand_memo.get(term)
        if hit is not None:
            return hit
        iri = _expand_iri(term, self._defs, self._vocab)
        if len(self._expand_memo) >= _MEMO_LIMIT:
            self._expand_memo.clear()
        self._expand_memo[term] = iri
        return iri

    def expand_vocab(self, value: str) -> str:
        """Expand a vocabulary value (entity type, VocabProperty value, objectType) to an IRI."""
        return self.expand(value)

    def compact(self, iri: str) -> str:
        """Compact an IRI: shortest term, else default-context name, else compact IRI, else the IRI."""
        hit = self._compact_memo.get(iri)
        if hit is not None:
            return hit
        result = self._compact_uncached(iri)
        if len(self._compact_memo) >= _MEMO_LIMIT:
            self._compact_memo.clear()
        self._compact_memo[iri] = result
        return result

    def compact_vocab(self, iri: str) -> str:
        """Compact a vocabulary IRI (types, VocabProperty values); same rules as `compact`."""
        return self.compact(iri)

    def _compact_uncached(self, iri: str) -> str:
        term = self._reverse.get(iri)
        if term is not None:
            return term
        if iri.startswith(self._vocab):
            name = iri[len(self._vocab) :]
            if name and ":" not in name and name not in self._defs:
                return name
        best: str | None = None
        for prefix_iri, prefix in self._prefixes:
            if iri.startswith(prefix_iri) and len(iri) > len(prefix_iri):
                candidate = f"{prefix}:{iri[len(prefix_iri) :]}"
                # A compact IRI must not be mistaken for a term, nor start like an authority.
                if candidate[len(prefix) + 1 :].startswith("//") or candidate in self._defs:
                    continue
                if best is None or (len(candidate), candidate) < (len(best), best):
                    best = candidate
        return best if best is not None else iri


def _expand_iri(value: str, defs: dict[str, TermDefinition], vocab: str) -> str:
    """IRI expansion of a vocabulary-relative value against compiled definitions."""
    if value.startswith("@"):
        return value
    definition = defs.get(value)
    if definition is not None:
        return definition.iri
    prefix, sep, suffix = value.partition(":")
    if sep:
        if suffix.startswith("//") or prefix == "_":
            return value
        prefix_def = defs.get(prefix)
        if prefix_def is not None and not prefix_def.iri.startswith("@"):
            return prefix_def.iri + suffix
        return value
    return vocab + value


def _compile_local(active: dict[str, TermDefinition], vocab: str, local: dict[str, Any]) -> str:
    """Apply one local context object to the active definitions; returns the new @vocab."""
    if "@vocab" in local:
        raw_vocab = local["@vocab"]
        if raw_vocab is None:
            vocab = DEFAULT_CONTEXT_VOCAB
        elif isinstance(raw_vocab, str):
            vocab = _expand_iri(raw_vocab, active, vocab) if raw_vocab else vocab
        else:
            raise _invalid("@vocab must be a string")
    pending = {k: v for k, v in local.items() if not k.startswith("@")}
    done: dict[str, TermDefinition | None] = {}

    def iri_of(value: str, stack: frozenset[str]) -> str:
        if value.startswith("@"):
            return value
        prefix, sep, suffix = value.partition(":")
        if sep:
            if suffix.startswith("//") or prefix == "_":
                return value
            if prefix in pending and prefix not in stack:
                prefix_def = define(prefix, stack)
                return value if prefix_def is None else prefix_def.iri + suffix
            prefix_def = active.get(prefix)
            return value if prefix_def is None else prefix_def.iri + suffix
        if value in pending and value not in stack:
            own = define(value, stack)
            if own is not None:
                return own.iri
        hit = active.get(value)
        return hit.iri if hit is not None else vocab + value

    def define(term: str, stack: frozenset[str]) -> TermDefinition | None:
        if term in done:
            return done[term]
        raw = pending[term]
        inner = stack | {term}
        result: TermDefinition | None
        if raw is None:
            result = None
        elif isinstance(raw, str):
            iri = iri_of(raw, inner) if raw != term or ":" in term else vocab + term
            result = TermDefinition(iri, prefix=iri[-1:] in _GEN_DELIMS)
        elif isinstance(raw, dict):
            result = _expanded_definition(term, raw, inner, iri_of, vocab)
        else:
            raise _invalid(f"the definition of term {term!r} must be a string or an object")
        done[term] = result
        return result

    for term in pending:
        definition = define(term, frozenset())
        if definition is None:
            active.pop(term, None)
        else:
            active[term] = definition
    return vocab


def _expanded_definition(
    term: str, raw: dict[str, Any], stack: frozenset[str], iri_of: _IriOf, vocab: str
) -> TermDefinition | None:
    """Compile an expanded term definition ({"@id": ..., "@type": ..., "@container": ...})."""
    if "@reverse" in raw:
        return None  # reverse properties have no meaning for NGSI-LD attributes
    raw_id = raw.get("@id", term)
    if raw_id is None:
        return None
    if not isinstance(raw_id, str):
        raise _invalid(f"@id of term {term!r} must be a string")
    iri = iri_of(raw_id, stack) if (raw_id != term or ":" in term) else vocab + term
    type_mapping = raw.get("@type")
    if type_mapping is not None:
        if not isinstance(type_mapping, str):
            raise _invalid(f"@type of term {term!r} must be a string")
        if type_mapping not in _TYPE_KEYWORDS:
            type_mapping = iri_of(type_mapping, stack)
    container = raw.get("@container")
    if isinstance(container, list):
        container = ",".join(sorted(str(c) for c in container))
    elif container is not None and not isinstance(container, str):
        raise _invalid(f"@container of term {term!r} must be a string or a list")
    return TermDefinition(iri, type_mapping, container, prefix=raw.get("@prefix") is True)


def _invalid(detail: str) -> ProblemError:
    return ProblemError("BadRequestData", f"invalid @context: {detail}")


@functools.cache
def _core_bytes() -> bytes:
    # The bundled file is immutable package data: reading it once per process is safe to memoise.
    return (resources.files("cityos_broker.ngsild") / "data" / _CORE_FILE).read_bytes()


@functools.cache
def _core_local() -> dict[str, Any]:
    local = orjson.loads(_core_bytes())["@context"]
    assert isinstance(local, dict)
    return local


@functools.cache
def _core_definitions() -> dict[str, TermDefinition]:
    active: dict[str, TermDefinition] = {}
    _compile_local(active, DEFAULT_CONTEXT_VOCAB, _core_local())
    return active


def core_context() -> dict[str, Any]:
    """The bundled NGSI-LD v1.9 core context document ({"@context": {...}}), a fresh copy."""
    doc = orjson.loads(_core_bytes())
    assert isinstance(doc, dict)
    return doc


def core_local_context() -> dict[str, Any]:
    """The core context's @context object, shared and read-only: callers must not mutate it."""
    return _core_local()


def core_term_map() -> TermMap:
    """A new term map of the core context alone (long-lived holders such as the resolver keep one)."""
    return TermMap(dict(_core_definitions()), DEFAULT_CONTEXT_VOCAB, None)
