"""Query parameters of the NGSI-LD binding: parsing, validation and mapping onto the proto messages."""

from __future__ import annotations

from urllib.parse import parse_qsl

from cityos.broker.v1 import broker_pb2 as pb
from cityos_runtime.problems import ProblemError

# Parameters whose value is a comma list: repeating them appends to the list.
_LIST_PARAMS = frozenset({"id", "attrs", "pick", "omit", "options", "aggrMethods"})

FORMATS = {
    "normalized": pb.FORMAT_NORMALIZED,
    "concise": pb.FORMAT_CONCISE,
    "keyValues": pb.FORMAT_KEY_VALUES,
    "simplified": pb.FORMAT_KEY_VALUES,  # the spec's other name for keyValues
}
ENTITY_OPTIONS = frozenset(
    {"keyValues", "simplified", "concise", "normalized", "sysAttrs", "noOverwrite", "replace", "update"}
)
TEMPORAL_OPTIONS = ENTITY_OPTIONS | {"temporalValues", "aggregatedValues"}
_MAX_INT32 = 2**31 - 1


def parse_query(query_string: bytes) -> dict[str, str]:
    """Decode a query string; a repeated list parameter is joined with commas, any other is a 400."""
    params: dict[str, str] = {}
    if not query_string:
        return params
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProblemError("BadRequestData", "the query string is not valid percent-encoded UTF-8") from exc
    for name, value in pairs:
        if name in params:
            if name not in _LIST_PARAMS:
                raise ProblemError("BadRequestData", f"query parameter {name} is given more than once")
            params[name] = f"{params[name]},{value}"
        else:
            params[name] = value
    return params


def split_list(value: str) -> list[str]:
    """A comma list parameter as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


def options(query: dict[str, str], allowed: frozenset[str] = ENTITY_OPTIONS) -> frozenset[str]:
    """The `options` values, each checked against the ones the route allows."""
    values = frozenset(split_list(query.get("options", "")))
    unknown = values - allowed
    if unknown:
        raise ProblemError(
            "BadRequestData",
            f"unknown options value(s): {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}",
        )
    return values


def non_negative(query: dict[str, str], name: str) -> int | None:
    """A non-negative integer parameter, None when absent; 400 when malformed."""
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_INT32:
        raise ProblemError("BadRequestData", f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def flag(query: dict[str, str], name: str) -> bool:
    """A boolean parameter (`true` / `false`, absent is false); 400 on any other value."""
    raw = query.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise ProblemError("BadRequestData", f"{name} must be true or false, got {raw!r}")


def render(
    query: dict[str, str], media_type: pb.MediaType.ValueType, link: str, opts: frozenset[str]
) -> pb.Render:
    """The Render message: format, sysAttrs, projections, lang, geometryProperty, datasetId."""
    return pb.Render(
        format=response_format(query, opts),
        media_type=media_type,
        sys_attrs="sysAttrs" in opts,
        link_context=link,
        attrs=split_list(query.get("attrs", "")),
        pick=split_list(query.get("pick", "")),
        omit=split_list(query.get("omit", "")),
        lang=query.get("lang", ""),
        geometry_property=query.get("geometryProperty", ""),
        dataset_id=query.get("datasetId", ""),
    )


def response_format(query: dict[str, str], opts: frozenset[str]) -> pb.Format.ValueType:
    """The representation: `format` when given (it takes precedence), else the options, else normalized."""
    raw = query.get("format")
    if raw is not None:
        if raw not in FORMATS:
            raise ProblemError("BadRequestData", f"unknown format {raw!r}; use {', '.join(FORMATS)}")
        return FORMATS[raw]
    chosen = list({FORMATS[name] for name in FORMATS if name in opts})
    if len(chosen) > 1:
        raise ProblemError("BadRequestData", "options may name only one of normalized, concise, keyValues")
    return chosen[0] if chosen else pb.FORMAT_UNSPECIFIED


def entity_query(query: dict[str, str]) -> pb.EntityQuery:
    """The EntityQuery of GET /entities-like requests (q and geo syntax are checked by the broker)."""
    message = pb.EntityQuery(
        ids=split_list(query.get("id", "")),
        id_pattern=query.get("idPattern", ""),
        type=query.get("type", ""),
        attrs=split_list(query.get("attrs", "")),
        q=query.get("q", ""),
        scope_q=query.get("scopeQ", ""),
        csf=query.get("csf", ""),
        local=flag(query, "local"),
    )
    if any(name in query for name in ("georel", "geometry", "coordinates", "geoproperty")):
        message.geo.CopyFrom(
            pb.GeoQuery(
                georel=query.get("georel", ""),
                geometry=query.get("geometry", ""),
                coordinates=query.get("coordinates", ""),
                geoproperty=query.get("geoproperty", ""),
            )
        )
    return message


# Parameters mapped onto typed fields; every other one travels verbatim in ResourceRequest.params.
# `options` travels both ways: its temporal values (temporalValues, aggregatedValues) have no typed field.
TYPED_PARAMS = frozenset(
    {
        "id", "idPattern", "type", "attrs", "pick", "omit", "q", "scopeQ", "georel", "geometry",
        "coordinates", "geoproperty", "geometryProperty", "csf", "lang", "limit", "offset", "count",
        "format", "datasetId", "local",
    }
)  # fmt: skip


def extra_params(query: dict[str, str]) -> dict[str, str]:
    """Parameters with no typed field (temporal ones such as timerel, timeAt, lastN), verbatim."""
    return {name: value for name, value in query.items() if name not in TYPED_PARAMS}
