"""The node's settings: one typed object read from ``ASASAP_*`` variables and an optional TOML file.

Precedence, highest first: environment variables, the TOML file (``--config`` or ``ASASAP_CONFIG``),
the defaults below. Every field is documented in ``docs/configuration.md``; a test fails when one is not.
Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "ASASAP_"
SECRET_FILE_NAME = "secret.key"


class SettingsError(ValueError):
    """A setting is missing or has a value that cannot be used."""


class Mode(StrEnum):
    """The economic setting of a node."""

    MARKET = "market"
    COOPERATIVE = "cooperative"


class RegistrationPolicy(StrEnum):
    """How new people join a node."""

    OPEN = "open"
    APPROVAL = "approval"
    INVITE = "invite"


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class Settings:
    """Everything a node needs to know about itself. Field docs feed ``docs/configuration.md``."""

    base_url: str = field(
        default="http://127.0.0.1:8000",
        metadata=_doc("Public URL of the node; every ActivityPub id derives from it."),
    )
    data_dir: Path = field(
        default=Path("var"),
        metadata=_doc("Folder for the SQLite database, the secret key file and other node data."),
    )
    database_url: str = field(
        default="",
        metadata=_doc("SQLAlchemy URL; empty means `sqlite:///<data_dir>/asasap.db`."),
    )
    secret_key: str = field(
        default="",
        metadata=_doc(
            "Secret for sessions, CSRF and key encryption; empty means read `<data_dir>/secret.key`."
        ),
    )
    mode: Mode = field(default=Mode.MARKET, metadata=_doc("`market` or `cooperative`."))
    node_name: str = field(default="ASASAP", metadata=_doc("Name shown on pages and in NodeInfo."))
    territory: str = field(default="", metadata=_doc("Territory the node serves, e.g. `Montreuil (93)`."))
    registration: RegistrationPolicy = field(
        default=RegistrationPolicy.APPROVAL,
        metadata=_doc("Registration policy: `open`, `approval` (by a coordinator) or `invite` (codes)."),
    )
    allow_private_addresses: bool = field(
        default=False,
        metadata=_doc("Allow remote fetches and deliveries to private or loopback addresses (tests, demo)."),
    )
    default_language: str = field(
        default="fr", metadata=_doc("Language of pages when nothing else says: `fr` or `en`.")
    )
    host: str = field(default="127.0.0.1", metadata=_doc("Address `asasap serve` listens on."))
    port: int = field(default=8000, metadata=_doc("Port `asasap serve` listens on."))
    max_body_bytes: int = field(
        default=1_048_576, metadata=_doc("Largest request body accepted (forms, JSON, inbox), in bytes.")
    )
    login_max_failures: int = field(
        default=5,
        metadata=_doc("Failed logins allowed per (account, address) pair within the window before a lock."),
    )
    login_window_seconds: int = field(
        default=900, metadata=_doc("Window, in seconds, over which failed logins are counted.")
    )
    session_days: int = field(default=30, metadata=_doc("Lifetime of a login session, in days."))
    log_level: str = field(
        default="info", metadata=_doc("Logging level: `debug`, `info`, `warning`, `error`.")
    )
    embedded_worker: bool = field(
        default=True, metadata=_doc("Run the federation worker (deliveries, inbox) inside `asasap serve`.")
    )
    delivery_concurrency: int = field(default=8, metadata=_doc("Deliveries a worker sends at the same time."))
    delivery_give_up_hours: int = field(
        default=72, metadata=_doc("Hours after which a delivery that keeps failing is abandoned.")
    )
    fetch_timeout_seconds: int = field(
        default=10, metadata=_doc("Timeout of one remote fetch or delivery, in seconds.")
    )
    secure_mode: bool = field(
        default=False,
        metadata=_doc("Require HTTP signatures on ActivityStreams GET requests (authorized fetch)."),
    )
    # --- time bank (cooperative nodes): the node's policy, in hours with at most two decimals ---
    timebank_starting_credit: Decimal = field(
        default=Decimal("2"),
        metadata=_doc("Hours granted from the community account when a person's account is approved."),
    )
    timebank_min_balance: Decimal = field(
        default=Decimal("-10"), metadata=_doc("Lowest balance a person may reach, in hours (zero or less).")
    )
    timebank_max_balance: Decimal = field(
        default=Decimal("100"), metadata=_doc("Highest balance a person may reach, in hours.")
    )
    timebank_peer_cap: Decimal = field(
        default=Decimal("20"),
        metadata=_doc(
            "Default cap, in hours either way, of the clearing balance with another node "
            "(`asasap timebank peer-cap` sets one per peer)."
        ),
    )
    timebank_late_cancellation_fee: Decimal = field(
        default=Decimal("0"),
        metadata=_doc(
            "Hours a requester pays the provider for a late cancellation of an agreement priced in "
            "time tokens (at most the agreed amount); 0 for none."
        ),
    )
    timebank_near_limit: Decimal = field(
        default=Decimal("2"),
        metadata=_doc("Coordinators see the accounts within this many hours of a limit."),
    )
    timebank_retry_seconds: int = field(
        default=60,
        metadata=_doc(
            "Seconds before a transfer to another node that got no answer is offered again (doubling "
            "up to an hour), and between two looks for payments due."
        ),
    )
    # Telemanagement (issue 11): the tolerances of the anomaly checks.
    telemanagement_late_minutes: int = field(
        default=15,
        metadata=_doc(
            "Minutes of tolerance around a planned visit: a later check-in is late, an earlier one or a "
            "later check-out is outside the slot, a missing clock is reported once the end passed by this."
        ),
    )
    telemanagement_short_percent: int = field(
        default=80,
        metadata=_doc("A clocked visit shorter than this percentage of its planned duration is too short."),
    )
    # Telemanagement billing (issue 11): who issues the invoices, with the mentions of art. D7233-1.
    telemanagement_issuer_name: str = field(
        default="", metadata=_doc("Legal name on invoices and tax certificates (empty: the node's name).")
    )
    telemanagement_issuer_address: str = field(
        default="", metadata=_doc("Postal address of the issuer, printed on invoices and certificates.")
    )
    telemanagement_issuer_siret: str = field(
        default="", metadata=_doc("SIRET (14 digits) of the issuer; its first nine digits are the SIREN.")
    )
    telemanagement_sap_declaration: str = field(
        default="",
        metadata=_doc(
            "The issuer's declaration of services à la personne, number and date (e.g. "
            "'SAP123456789 du 2020-01-15'); empty: invoices say they open no right to the tax advantage."
        ),
    )
    telemanagement_sap_agrement: str = field(
        default="", metadata=_doc("The issuer's agrément or autorisation number, when it has one.")
    )
    telemanagement_urssaf_tiers_id: str = field(
        default="",
        metadata=_doc(
            "The issuer's identifier as a tiers de prestation of URSSAF's avance immédiate "
            "(idTiersFacturation); empty: not registered, no payment request is made."
        ),
    )
    telemanagement_position_check: bool = field(
        default=False,
        metadata=_doc(
            "Compare the provider's phone position, at clock time only, with the centre of the home's "
            "commune; only the result is kept (inside, outside, unknown), never the position."
        ),
    )
    telemanagement_position_km: int = field(
        default=3,
        metadata=_doc("Kilometres from the centre of the home's commune within which a clock is inside."),
    )
    # Running a node for real (issue 9): abuse limits, proxies, slow clients, logs, metrics.
    limit_registrations_per_address_hour: int = field(
        default=5, metadata=_doc("Accounts one client address may register per hour (0: no limit).")
    )
    limit_proposals_per_person_day: int = field(
        default=30, metadata=_doc("Offers and demands one person may publish per day (0: no limit).")
    )
    limit_bids_per_proposal_day: int = field(
        default=50, metadata=_doc("Answers (bids) one proposal may receive per day (0: no limit).")
    )
    limit_bids_per_person_day: int = field(
        default=60, metadata=_doc("Answers (bids) one person may send per day (0: no limit).")
    )
    limit_follows_per_person_day: int = field(
        default=200, metadata=_doc("Follow requests one person may send per day (0: no limit).")
    )
    limit_messages_per_person_hour: int = field(
        default=60, metadata=_doc("Messages one person may send per hour (0: no limit).")
    )
    limit_reports_per_person_day: int = field(
        default=20, metadata=_doc("Reports one person may file per day (0: no limit).")
    )
    limit_tokens_per_person_hour: int = field(
        default=20, metadata=_doc("API tokens one person may create per hour (0: no limit).")
    )
    limit_api_requests_per_token_minute: int = field(
        default=600, metadata=_doc("API requests one token may make per minute (0: no limit).")
    )
    login_address_max_failures: int = field(
        default=50,
        metadata=_doc("Failed logins allowed from one address, on any accounts, within the login window."),
    )
    login_delay_max_seconds: int = field(
        default=8,
        metadata=_doc("Longest delay before answering a login to an account that keeps failing, in seconds."),
    )
    trusted_proxies: str = field(
        default="",
        metadata=_doc(
            "Comma-separated addresses of the reverse proxies whose `X-Forwarded-For` is believed (none)."
        ),
    )
    header_timeout_seconds: int = field(
        default=15, metadata=_doc("Seconds a client has to send a request's headers before it is cut off.")
    )
    body_timeout_seconds: int = field(
        default=30, metadata=_doc("Seconds a client may pause while sending a request body (then 408).")
    )
    log_format: str = field(
        default="text", metadata=_doc("Log lines as `text` or `json` (one object a line).")
    )
    metrics_allow: str = field(
        default="127.0.0.1,::1",
        metadata=_doc("Comma-separated addresses or networks allowed to read `/metrics` (empty: nobody)."),
    )
    worker_stale_seconds: int = field(
        default=60,
        metadata=_doc("A worker not heard from for this many seconds is dead for `/readyz` and `/metrics`."),
    )
    # Research figures (issue 15).
    research_min_people: int = field(
        default=5,
        metadata=_doc(
            "Smallest number of people a published research figure may come from (k, never below 3); "
            "smaller cells are suppressed."
        ),
    )
    research_publish: bool = field(
        default=False,
        metadata=_doc(
            "Publish this node's monthly research figures as a signed document at `/research/figures` "
            "(linked from NodeInfo) for other nodes' researchers to collect."
        ),
    )
    # Matching (issue 10).
    match_radius_km: int = field(
        default=10,
        metadata=_doc(
            "Kilometres a provider goes to provide a service unless they set their own radius "
            '("rayon d\'intervention"); also the radius of offers from other nodes.'
        ),
    )
    match_notify_top: int = field(
        default=5, metadata=_doc("How many of the best matches of a new proposal are notified (0: none).")
    )
    match_alerts_per_day: int = field(
        default=5, metadata=_doc("At most this many match notifications per person in 24 hours.")
    )
    alerts_interval_seconds: int = field(
        default=30,
        metadata=_doc("Seconds between two passes of the saved-search and match alerts over new proposals."),
    )

    # E-mail (issue 14): outgoing mail through an SMTP relay; empty host means no e-mail at all.
    smtp_host: str = field(
        default="", metadata=_doc("SMTP server that sends the node's e-mail; empty turns e-mail off.")
    )
    smtp_port: int = field(default=587, metadata=_doc("Port of the SMTP server."))
    smtp_security: str = field(
        default="starttls",
        metadata=_doc(
            "`starttls` (upgrade a plain connection), `tls` (TLS from the start, port 465) or `none`."
        ),
    )
    smtp_user: str = field(default="", metadata=_doc("SMTP login; empty means no authentication."))
    smtp_password: str = field(default="", metadata=_doc("SMTP password (with `smtp_user`)."))
    mail_from: str = field(
        default="",
        metadata=_doc(
            "Sender of the node's e-mail, e.g. `Montreuil Services <noreply@example.org>`; "
            "empty means the node name at `noreply@<domain>`."
        ),
    )
    limit_password_resets_per_address_hour: int = field(
        default=5,
        metadata=_doc(
            "Password reset requests one client address (and one e-mail address) may make per hour."
        ),
    )
    telemanagement_pin_max_failures: int = field(
        default=5,
        metadata=_doc(
            "Wrong PINs typed for a home before its PIN is locked until a coordinator draws a new one."
        ),
    )

    @property
    def effective_database_url(self) -> str:
        """The database URL with the default filled in and the psycopg 3 driver selected."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'asasap.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url

    @property
    def secret_file(self) -> Path:
        return self.data_dir / SECRET_FILE_NAME

    @property
    def effective_secret_key(self) -> str:
        """The secret key, from the setting or the data folder's key file."""
        if self.secret_key:
            return self.secret_key
        try:
            key = self.secret_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SettingsError(
                f"no secret key: set ASASAP_SECRET_KEY or run `asasap init` to create {self.secret_file}"
            ) from None
        if not key:
            raise SettingsError(f"the secret key file {self.secret_file} is empty")
        return key

    @property
    def domain(self) -> str:
        """Host and (non-default) port of the base URL, as used in handles and WebFinger."""
        return urlsplit(self.base_url).netloc

    @property
    def is_https(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    def url(self, path: str) -> str:
        """An absolute URL on this node for ``path``."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def fields_with_docs() -> list[tuple[str, str, str, str]]:
    """``(env name, type, default, doc)`` for every setting, for docs and ``--help``."""
    rows = []
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = default.value if isinstance(default, StrEnum) else default
        rows.append((ENV_PREFIX + f.name.upper(), _type_name(f.type), str(shown), f.metadata["doc"]))
    return rows


def _type_name(annotation: object) -> str:
    return str(annotation).replace("Path", "path")


def _coerce(name: str, annotation: object, raw: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"expected a boolean, got {raw!r}")
        if kind == "int":
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(raw)
        if kind == "Path":
            return Path(str(raw))
        if kind == "Decimal":
            try:
                return Decimal(str(raw).strip())
            except InvalidOperation:
                raise ValueError(f"expected a number of hours, got {raw!r}") from None
        if kind in ("Mode", "RegistrationPolicy"):
            enum = Mode if kind == "Mode" else RegistrationPolicy
            value = str(raw).strip().lower()
            if value not in enum._value2member_map_:
                raise ValueError(f"{raw!r} is not one of {', '.join(m.value for m in enum)}")
            return enum(value)
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: {exc}") from None


def load_settings(
    env: Mapping[str, str] | None = None, config_file: str | Path | None = None, **overrides: Any
) -> Settings:
    """Build the settings from ``env`` (default ``os.environ``), an optional TOML file and overrides."""
    env = os.environ if env is None else env
    config_path = config_file or env.get(ENV_PREFIX + "CONFIG")
    values: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Settings)}
    if config_path:
        path = Path(config_path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"configuration file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from None
        for key, raw in data.items():
            name = key.lower()
            if name not in known:
                raise SettingsError(f"unknown setting {key!r} in {path}")
            values[name] = _coerce(name, known[name].type, raw)
    for name, f in known.items():
        raw_env = env.get(ENV_PREFIX + name.upper())
        if raw_env is not None:
            values[name] = _coerce(name, f.type, raw_env)
    values.update(overrides)
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse settings that cannot work, with a message saying which and why."""
    parts = urlsplit(settings.base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"ASASAP_BASE_URL must be an http(s) URL, got {settings.base_url!r}")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise SettingsError("ASASAP_BASE_URL must not have a path, query or fragment")
    if settings.default_language not in {"fr", "en"}:
        raise SettingsError("ASASAP_DEFAULT_LANGUAGE must be `fr` or `en`")
    if not 0 < settings.port < 65536:
        raise SettingsError("ASASAP_PORT must be between 1 and 65535")
    if settings.max_body_bytes < 1024:
        raise SettingsError("ASASAP_MAX_BODY_BYTES must be at least 1024")
    if not 1 <= settings.delivery_concurrency <= 256:
        raise SettingsError("ASASAP_DELIVERY_CONCURRENCY must be between 1 and 256")
    if settings.delivery_give_up_hours < 1 or settings.fetch_timeout_seconds < 1:
        raise SettingsError("ASASAP_DELIVERY_GIVE_UP_HOURS and ASASAP_FETCH_TIMEOUT_SECONDS must be positive")
    if settings.log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise SettingsError("ASASAP_LOG_LEVEL must be debug, info, warning or error")
    _validate_timebank(settings)
    _validate_telemanagement(settings)
    for name in ("trusted_proxies", "metrics_allow"):
        try:
            networks(getattr(settings, name))
        except ValueError as exc:
            raise SettingsError(f"ASASAP_{name.upper()}: {exc}") from None
    if settings.research_min_people < 3:
        raise SettingsError("ASASAP_RESEARCH_MIN_PEOPLE must be at least 3: smaller cells identify people")
    if not 1 <= settings.match_radius_km <= 1000:  # matching (issue 10)
        raise SettingsError("ASASAP_MATCH_RADIUS_KM must be between 1 and 1000")
    if settings.match_notify_top < 0 or settings.match_alerts_per_day < 0:
        raise SettingsError("ASASAP_MATCH_NOTIFY_TOP and ASASAP_MATCH_ALERTS_PER_DAY must not be negative")
    if not 1 <= settings.alerts_interval_seconds <= 86400:
        raise SettingsError("ASASAP_ALERTS_INTERVAL_SECONDS must be between 1 and 86400")
    if settings.log_format not in {"text", "json"}:
        raise SettingsError("ASASAP_LOG_FORMAT must be `text` or `json`")
    if settings.header_timeout_seconds < 1 or settings.body_timeout_seconds < 1:
        raise SettingsError("ASASAP_HEADER_TIMEOUT_SECONDS and ASASAP_BODY_TIMEOUT_SECONDS must be positive")
    if settings.smtp_security not in {"starttls", "tls", "none"}:
        raise SettingsError("ASASAP_SMTP_SECURITY must be `starttls`, `tls` or `none`")
    if not 0 < settings.smtp_port < 65536:
        raise SettingsError("ASASAP_SMTP_PORT must be between 1 and 65535")
    url = settings.effective_database_url
    if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
        raise SettingsError("ASASAP_DATABASE_URL must be a sqlite:/// or postgresql:// URL")


def _validate_timebank(settings: Settings) -> None:
    """The time bank's policy: finite hours with two decimals at most, limits around zero."""
    for name in (
        "timebank_starting_credit",
        "timebank_min_balance",
        "timebank_max_balance",
        "timebank_peer_cap",
        "timebank_late_cancellation_fee",
        "timebank_near_limit",
    ):
        value: Decimal = getattr(settings, name)
        exponent = value.normalize().as_tuple().exponent if value.is_finite() else None
        if not isinstance(exponent, int) or exponent < -2 or abs(value) > 100_000:
            raise SettingsError(
                f"{ENV_PREFIX}{name.upper()} must be a number of hours with at most two decimals"
            )
    if settings.timebank_min_balance > 0 or settings.timebank_max_balance <= 0:
        raise SettingsError(
            "ASASAP_TIMEBANK_MIN_BALANCE must be 0 or less and ASASAP_TIMEBANK_MAX_BALANCE above 0"
        )
    for name in ("timebank_starting_credit", "timebank_peer_cap", "timebank_late_cancellation_fee"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} cannot be negative")
    if settings.timebank_starting_credit > settings.timebank_max_balance:
        raise SettingsError("ASASAP_TIMEBANK_STARTING_CREDIT cannot exceed ASASAP_TIMEBANK_MAX_BALANCE")
    if not 1 <= settings.timebank_retry_seconds <= 86_400:
        raise SettingsError("ASASAP_TIMEBANK_RETRY_SECONDS must be between 1 and 86400")


def _validate_telemanagement(settings: Settings) -> None:
    if not 0 <= settings.telemanagement_late_minutes <= 240:
        raise SettingsError("ASASAP_TELEMANAGEMENT_LATE_MINUTES must be between 0 and 240")
    if not 1 <= settings.telemanagement_short_percent <= 100:
        raise SettingsError("ASASAP_TELEMANAGEMENT_SHORT_PERCENT must be between 1 and 100")
    if not 1 <= settings.telemanagement_position_km <= 100:
        raise SettingsError("ASASAP_TELEMANAGEMENT_POSITION_KM must be between 1 and 100")
    if not 1 <= settings.telemanagement_pin_max_failures <= 100:
        raise SettingsError("ASASAP_TELEMANAGEMENT_PIN_MAX_FAILURES must be between 1 and 100")


def networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The addresses or networks of a comma-separated setting (``127.0.0.1, 10.0.0.0/8``)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def new_secret_key() -> str:
    """A fresh random secret suitable for ``ASASAP_SECRET_KEY``."""
    return secrets.token_urlsafe(48)
