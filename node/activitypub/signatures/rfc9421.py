"""RFC 9421 HTTP Message Signatures: parsing, the signature base, verification and signing.

Supported algorithms: ``rsa-v1_5-sha256``, ``rsa-pss-sha512``, ``ecdsa-p256-sha256``, ``ed25519``
and ``hmac-sha256`` (only with a :class:`SharedSecret` the caller supplies). Without an ``alg``
parameter the algorithm comes from the key: its declared algorithm, else its type.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl

from node.activitypub.signatures.digest import content_digest_header, verify_body_digest
from node.activitypub.signatures.errors import InvalidSignature, MalformedSignature
from node.activitypub.signatures.keys import (
    ALGORITHMS,
    KeyInput,
    PrivateKey,
    SharedSecret,
    algorithm_for_key,
    sign_with,
    unwrap_key,
    verify_with,
)
from node.activitypub.signatures.message import (
    Headers,
    Message,
    ParsedSignature,
    SignedRequest,
    SignedResponse,
    check_expires,
    check_window,
    normalize_authority,
    split_url,
    timestamp,
    utc_now,
    wire_bytes,
)
from node.activitypub.signatures.sf import (
    InnerList,
    Item,
    Member,
    Params,
    StructuredFieldError,
    Token,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_bare_item,
    serialize_dictionary,
    serialize_list,
    serialize_member,
    serialize_params,
)

DERIVED = frozenset(
    {
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@query-param",
        "@status",
    }
)
_COMPONENT_PARAMS = frozenset({"sf", "key", "bs", "req", "name"})
_STRING_PARAMS = frozenset({"keyid", "alg", "nonce", "tag"})
_INTEGER_PARAMS = frozenset({"created", "expires"})

# Top-level Structured Field types of the fields we may meet with ";sf" (RFC 9421 section 2.1.1
# needs the type to re-serialize a field).
STRUCTURED_FIELDS: dict[str, Literal["item", "list", "dictionary"]] = {
    "content-digest": "dictionary",
    "repr-digest": "dictionary",
    "want-content-digest": "dictionary",
    "want-repr-digest": "dictionary",
    "signature-input": "dictionary",
    "signature": "dictionary",
    "accept-signature": "dictionary",
    "priority": "dictionary",
    "cache-status": "list",
    "proxy-status": "list",
}

# HTML's application/x-www-form-urlencoded percent-encode set leaves only these bytes as is.
_FORM_SAFE = frozenset((string.ascii_letters + string.digits + "*-._").encode("ascii"))


def _form_encode(text: str) -> str:
    # RFC 9421 section 2.2.8 re-encodes with the form serializer, but spaces as %20, not "+".
    return "".join(chr(byte) if byte in _FORM_SAFE else f"%{byte:02X}" for byte in text.encode("utf-8"))


def _identifier(component: Item) -> str:
    return str(component.value) + serialize_params(component.params)


def _check_component(component: Item) -> None:
    name = component.value
    if not isinstance(name, str) or isinstance(name, Token):
        raise MalformedSignature("covered components must be strings")
    if name != name.lower() or not name:
        raise MalformedSignature(f"component name {name!r} must be lowercase")
    unknown = set(component.params) - _COMPONENT_PARAMS
    if unknown:
        raise MalformedSignature(f"unsupported component parameters {sorted(unknown)} on {name!r}")
    if any(component.params.get(flag, True) is not True for flag in ("sf", "bs", "req")):
        raise MalformedSignature(f"sf, bs and req are flags on {name!r}")
    if name.startswith("@"):
        if name not in DERIVED:
            raise MalformedSignature(f"unknown derived component {name!r}")
        wants_name = name == "@query-param"
        if set(component.params) - {"req", "name"} or ("name" in component.params) != wants_name:
            raise MalformedSignature(f"invalid parameters on {name!r}")
        if wants_name and not isinstance(component.params["name"], str):
            raise MalformedSignature("the @query-param name must be a string")
        return
    if "name" in component.params:
        raise MalformedSignature(f"the name parameter is only for @query-param, not {name!r}")
    if "bs" in component.params and ("sf" in component.params or "key" in component.params):
        raise MalformedSignature(f"bs cannot be combined with sf or key on {name!r}")
    if "key" in component.params and not isinstance(component.params["key"], str):
        raise MalformedSignature(f"the key parameter on {name!r} must be a string")


def parse_rfc9421(headers: Headers, label: str | None = None) -> ParsedSignature:
    """Parse ``Signature-Input`` and ``Signature``, taking ``label`` or else the first label."""
    try:
        inputs = parse_dictionary(headers["signature-input"], allow_duplicates=False)
        signatures = parse_dictionary(headers["signature"], allow_duplicates=False)
    except KeyError as exc:
        raise MalformedSignature("Signature-Input needs a Signature header") from exc
    except StructuredFieldError as exc:
        raise MalformedSignature(f"cannot parse the signature headers: {exc}") from exc
    if not inputs:
        raise MalformedSignature("Signature-Input is empty")
    chosen = next(iter(inputs)) if label is None else label
    member, signature = inputs.get(chosen), signatures.get(chosen)
    if not isinstance(member, InnerList):
        raise MalformedSignature(f"no signature input labelled {chosen!r}")
    if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
        raise MalformedSignature(f"no signature labelled {chosen!r}")
    for component in member.items:
        _check_component(component)
    covered = tuple(_identifier(component) for component in member.items)
    if len(set(covered)) != len(covered):
        raise MalformedSignature("a component is covered twice")
    params = member.params
    for name, value in params.items():
        if name in _INTEGER_PARAMS and (isinstance(value, bool) or not isinstance(value, int)):
            raise MalformedSignature(f"{name} must be an integer")
        if name in _STRING_PARAMS and (not isinstance(value, str) or isinstance(value, Token)):
            raise MalformedSignature(f"{name} must be a string")
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise MalformedSignature("the signature has no keyid")
    algorithm = params.get("alg")
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise MalformedSignature(f"unsupported algorithm {algorithm!r}")
    created, expires = params.get("created"), params.get("expires")
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=str(algorithm) if algorithm is not None else None,
        covered=covered,
        signature=signature.value,
        created=created if isinstance(created, int) else None,
        expires=expires if isinstance(expires, int) else None,
        label=chosen,
        components=tuple(member.items),
        params=dict(params),
    )


def _authority(request: SignedRequest, scheme: str) -> str:
    hosts = request.headers.get_all("host")
    if len(hosts) != 1 or not hosts[0].strip():
        raise MalformedSignature("@authority needs exactly one Host header")
    return normalize_authority(hosts[0], scheme)


def _query_param(request: SignedRequest, encoded_name: str) -> str:
    wanted = dict(parse_qsl(f"{encoded_name}=", keep_blank_values=True))
    name = next(iter(wanted), "")
    values = [value for key, value in parse_qsl(request.query or "", keep_blank_values=True) if key == name]
    if len(values) != 1:
        # A name absent or repeated does not identify a single parameter (section 2.2.8).
        raise MalformedSignature(f"the query has {len(values)} parameters named {name!r}, not one")
    return _form_encode(values[0])


def _derived(message: Message, component: Item, scheme: str) -> str:
    name = str(component.value)
    if isinstance(message, SignedResponse):
        if name != "@status":
            raise MalformedSignature(f"{name} in a response needs the req flag")
        return f"{message.status:03d}"
    if name == "@method":
        return message.method
    if name == "@target-uri":
        return f"{scheme.lower()}://{_authority(message, scheme)}{message.target}"
    if name == "@authority":
        return _authority(message, scheme)
    if name == "@scheme":
        return scheme.lower()
    if name == "@request-target":
        return message.target
    if name == "@path":
        return message.path
    if name == "@query":
        return "?" + (message.query or "")
    if name == "@query-param":
        return _query_param(message, str(component.params["name"]))
    raise MalformedSignature(f"{name} only exists in responses")


def _reserialize(value: str, top: Literal["item", "list", "dictionary"]) -> str:
    if top == "dictionary":
        return serialize_dictionary(parse_dictionary(value))
    if top == "list":
        return serialize_list(parse_list(value))
    return serialize_member(parse_item(value))


def _field(message: Message, component: Item) -> str:
    name, params = str(component.value), component.params
    values = message.headers.get_all(name)
    if not values:
        raise MalformedSignature(f"the covered field {name!r} is missing")
    combined = ", ".join(value.strip() for value in values)
    try:
        if "key" in params:
            member: Member | None = parse_dictionary(combined).get(str(params["key"]))
            if member is None:
                raise MalformedSignature(f"{name} has no member {params['key']!r}")
            return serialize_member(member)
        if "sf" in params:
            if name not in STRUCTURED_FIELDS:
                raise MalformedSignature(f"the structured type of {name!r} is not known")
            return _reserialize(combined, STRUCTURED_FIELDS[name])
    except StructuredFieldError as exc:
        raise MalformedSignature(f"{name} is not a valid structured field: {exc}") from exc
    if "bs" in params:
        return ", ".join(serialize_bare_item(wire_bytes(value.strip())) for value in values)
    return combined


def signature_base(message: Message, components: Sequence[Item], params: Params, *, scheme: str) -> bytes:
    """The RFC 9421 signature base (section 2.5) of ``message`` for these components."""
    lines: list[str] = []
    for component in components:
        _check_component(component)
        source: Message = message
        resolved = component
        if "req" in component.params:
            if not isinstance(message, SignedResponse) or message.request is None:
                raise MalformedSignature("the req flag needs a response with its request")
            source = message.request
            resolved = Item(component.value, {k: v for k, v in component.params.items() if k != "req"})
        if str(resolved.value).startswith("@"):
            value = _derived(source, resolved, scheme)
        else:
            value = _field(source, resolved)
        if "\n" in value or "\r" in value:
            raise MalformedSignature(f"the value of {component.value!r} contains a line break")
        lines.append(f"{serialize_member(component)}: {value}")
    lines.append(f'"@signature-params": {serialize_member(InnerList(list(components), params))}')
    return wire_bytes("\n".join(lines))


def _check_coverage(message: Message, parsed: ParsedSignature, require_digest_for_body: bool) -> None:
    names = {str(component.value) for component in parsed.components if "req" not in component.params}
    missing: list[str] = []
    if isinstance(message, SignedRequest):
        if "@method" not in names:
            missing.append("@method")
        if "@target-uri" not in names and not {"@path", "@authority"} <= names:
            missing.append("@target-uri (or @path and @authority)")
    elif "@status" not in names:
        missing.append("@status")
    if message.body and require_digest_for_body and "content-digest" not in names:
        missing.append("content-digest")
    if missing:
        raise MalformedSignature(f"the signature does not cover {', '.join(missing)}")


def verify_rfc9421(
    message: Message,
    parsed: ParsedSignature,
    key: KeyInput,
    *,
    now: datetime | None,
    max_skew: timedelta,
    require_digest_for_body: bool,
    enforce_policy: bool,
    scheme: str,
) -> None:
    """Verify a parsed RFC 9421 signature; see :func:`node.activitypub.signatures.verify_signature`."""
    if enforce_policy:
        _check_coverage(message, parsed, require_digest_for_body)
    if parsed.created is None:
        raise MalformedSignature("the signature has no created parameter")
    moment = utc_now(now)
    check_window(timestamp(parsed.created, "created"), moment, max_skew, "created")
    check_expires(parsed.expires, moment)
    if any(str(c.value) == "content-digest" and "req" not in c.params for c in parsed.components):
        verify_body_digest(message.headers, message.body)

    public, declared = unwrap_key(key, parsed.key_id)
    if parsed.algorithm and declared and parsed.algorithm != declared:
        raise InvalidSignature(f"the key is for {declared}, the signature says {parsed.algorithm}")
    algorithm = parsed.algorithm or declared or algorithm_for_key(public)
    base = signature_base(message, parsed.components, parsed.params, scheme=scheme)
    verify_with(algorithm, public, base, parsed.signature)


def _component(spec: str) -> Item:
    """A component from ``"@query-param";name="Pet"`` or the unquoted ``@query-param;name="Pet"``."""
    if not spec.startswith('"'):
        name, sep, params = spec.partition(";")
        spec = f'"{name}"{sep}{params}'
    try:
        return parse_item(spec)
    except StructuredFieldError as exc:
        raise ValueError(f"invalid component identifier {spec!r}") from exc


def sign_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | None,
    *,
    key_id: str,
    private_key: PrivateKey | SharedSecret,
    algorithm: str | None = None,
    covered: Sequence[str] | None = None,
    label: str = "sig1",
    now: datetime | None = None,
    expires: datetime | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """The headers to add (``Host`` and ``Content-Digest`` when absent, the two signature headers).

    ``covered`` takes identifiers as :attr:`ParsedSignature.covered` lists them (``date``,
    ``@query-param;name="Pet"``) or serialized (``"@query-param";name="Pet"``); by default
    ``@method``, ``@target-uri``, and ``content-digest`` when there is a body.
    """
    scheme, authority, target = split_url(url)
    existing = Headers(headers)
    added: dict[str, str] = {}
    if "host" not in existing:
        added["Host"] = authority
    if body and "content-digest" not in existing:
        added["Content-Digest"] = content_digest_header(body)
    request = SignedRequest(method.upper(), target, existing.replace(added), body)
    if covered is None:
        covered = ["@method", "@target-uri", *(["content-digest"] if body else [])]
    components = [_component(spec) for spec in covered]
    chosen = algorithm or algorithm_for_key(private_key)
    params: Params = {"created": int(utc_now(now).timestamp())}
    if expires is not None:
        params["expires"] = int(expires.timestamp())
    params["keyid"] = key_id
    if include_alg:
        params["alg"] = chosen
    if nonce is not None:
        params["nonce"] = nonce
    if tag is not None:
        params["tag"] = tag
    raw = sign_with(chosen, private_key, signature_base(request, components, params, scheme=scheme))
    added["Signature-Input"] = f"{label}={serialize_member(InnerList(components, params))}"
    added["Signature"] = f"{label}=:{base64.b64encode(raw).decode('ascii')}:"
    return added
