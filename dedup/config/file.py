"""The TOML configuration file: settings, sources and the service's tokens.

Layout (``deploy/dedup.toml`` is a complete example)::

    archive = "/var/lib/dedup/archive.duckdb"  # any field of Settings, at the top level
    workers = 0
    procedure_families = "procedure_families.csv"  # reference tables are settings too

    [[sources]]
    name = "incoming"
    type = "folder"                            # folder | zip | dicomdir | orthanc | dicomweb
    path = "/srv/dicom/incoming"

    [[sources]]
    name = "pacs"
    type = "orthanc"
    url = "http://127.0.0.1:8042"
    username = "dedup"
    password_env = "DEDUP_PACS_PASSWORD"       # the secret stays out of the file

    [service]
    tokens_env = "DEDUP_SERVICE_TOKENS"
    outcome_recorders = "ehr"                  # may record outcomes of anyone's checks
    viewer_url = "https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid}"
    public_url = "https://dedup.example.org"   # the audience of CDS Hooks JWTs

    [[service.cds_clients]]                    # an EHR that signs its CDS Hooks calls
    issuer = "https://ehr.example.org"
    jwks_url = "https://ehr.example.org/.well-known/jwks.json"

Every key is declared once, with its default and help, in :class:`~dedup.config.Settings` or in
the section dataclasses below. Precedence, lowest first: defaults, the file, the environment
(``DEDUP_<SETTING>``, ``DEDUP_SOURCE_<NAME>_<FIELD>``), command-line options. Relative paths
in the file (source paths and the settings in :data:`PATH_SETTINGS`) are relative to the
file's folder. :func:`load_config` reports every problem at
once, never only the first.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dedup.config.clients import CdsClient, client_problems, raw_clients
from dedup.config.dicomweb import DicomwebSource, dicomweb_problems, resolved
from dedup.config.dimse import DimseSource, check_dimse
from dedup.config.env import ENV_PREFIX, env_name, env_overrides, from_text
from dedup.config.listen import ListenSection, check_listen
from dedup.config.remote import RemoteSource
from dedup.config.settings import Settings, declared, setting
from dedup.config.tokens import accepted_tokens, read_tokens_file, split_tokens
from dedup.config.viewer import template_problems
from dedup.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PATH_TYPES = ("folder", "zip", "dicomdir")
#: String settings that name files (or, ``state_dir``, a folder): relative values in the file
#: are relative to its folder. Every ``str`` setting names one (``tests/config/test_file.py``).
PATH_SETTINGS = frozenset({"archive", "state_dir", "procedure_families", "lookback_windows",
                           "exam_costs", "effective_doses", "storage_costs"})
#: A path setting's value naming a table shipped in dedup/data (``shipped:exam_costs_de_goae.csv``)
SHIPPED_TABLE = "shipped:"


@dataclass(frozen=True, slots=True)
class PathSource:
    """A source read in place: a folder, a zip file (or a folder of them), CD/DICOMDIR media."""

    name: str = setting("", "Unique name of the source (letters, digits, '-' and '_').")
    type: str = setting("folder", "folder, zip or dicomdir: all are walked the same way.")
    path: str = setting("", "Folder, zip file or media root to index.")


@dataclass(frozen=True, slots=True)
class OrthancSource(RemoteSource):
    """An Orthanc server whose new instances are pulled to the spool over its REST API."""

    type: str = setting("orthanc", "orthanc.")
    url: str = setting("", "Base URL of the Orthanc REST API, e.g. http://pacs.local:8042.")
    username: str = setting("", "HTTP basic-auth user; empty for a server without authentication.")
    password_env: str = setting("", "Environment variable holding the password (never the file).")
    page_size: int = setting(100, "Changes read per request to the /changes feed (Orthanc "
                                  "answers at most 100).")
    max_failures: int = setting(5, "Failed downloads in a row after which the server counts as "
                                   "unreachable for this run (the rest waits for the next "
                                   "run).")

    def password(self, environ: Mapping[str, str] | None = None) -> str:
        """The password from ``password_env`` (empty when none is configured)."""
        env = os.environ if environ is None else environ
        return env.get(self.password_env, "") if self.password_env else ""


Source = PathSource | OrthancSource | DicomwebSource | DimseSource


@dataclass(frozen=True, slots=True)
class ServiceSection:
    """``[service]``: how the online check service authenticates callers."""

    tokens_env: str = setting("DEDUP_SERVICE_TOKENS",
                              "Environment variable holding accepted API tokens, "
                              "comma-separated.")
    tokens_file: str = setting("", "File with one accepted API token per line (mode 600).")
    outcome_recorders: str = setting(
        "", "Names of API tokens (comma-separated) that may record outcomes of checks other "
        "callers asked; empty: each caller records outcomes of its own checks only.")
    viewer_url: str = setting(
        "", "Link to a prior in the hospital's viewer, with {study_uid} (URL-encoded), e.g. "
        "https://pacs.example/ohif/viewer?StudyInstanceUIDs={study_uid}; shown in check "
        "results, CDS cards, FHIR ImagingStudy and the schedulers' page (docs/schedulers.md). "
        "Empty: no viewer link.")
    public_url: str = setting(
        "", "The service's URL as EHRs call it (e.g. https://dedup.example.org): the audience "
        "of CDS Hooks JWTs is its /cds-services.")
    cds_clients: tuple[CdsClient, ...] = setting(
        (), "EHRs allowed to call CDS Hooks, one [[service.cds_clients]] table each (issuer, "
        "jwks_url, audience); when any is set, CDS Hooks calls need their signed JWT.")
    cds_leeway_seconds: float = setting(
        60.0, "Clock skew allowed between an EHR and this server when checking a JWT's exp "
        "and iat (seconds, at most 300).")
    cds_jwks_ttl_seconds: float = setting(
        3600.0, "How long a client's fetched JWKS is used before it is fetched again "
        "(seconds).")
    cds_jwks_refetch_seconds: float = setting(
        30.0, "Least time between two fetches of one client's JWKS for a JWT signed with an "
        "unknown key id (seconds): a key rotation is picked up, a flood of made-up key ids "
        "is not passed on to the EHR.")


@dataclass(frozen=True, slots=True)
class Config:
    """A validated configuration: batch settings, sources and the service's secrets."""

    settings: Settings
    sources: tuple[Source, ...] = ()
    service: ServiceSection = ServiceSection()
    tokens: tuple[str, ...] = field(default=(), repr=False)
    path: Path | None = None
    listen: ListenSection | None = None  # [listen]: `dedup listen`'s storage SCP


_SOURCE_TYPES: dict[str, type[PathSource] | type[OrthancSource] | type[DicomwebSource]
                    | type[DimseSource]] = {
    **dict.fromkeys(PATH_TYPES, PathSource), "orthanc": OrthancSource,
    "dicomweb": DicomwebSource, "dimse": DimseSource}
_SECTIONS = {"sources", "service", "listen"}


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment and validate a configuration file.

    Args:
        path: the TOML file.
        environ: environment to read overrides and secrets from (default ``os.environ``).

    Returns:
        The validated configuration.

    Raises:
        UsageError: the file is missing or invalid; the message lists every problem.

    """
    env = os.environ if environ is None else environ
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist; pass --config FILE or "
                         "set DEDUP_CONFIG (deploy/dedup.toml is an example)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    problems: list[str] = []
    base = path.resolve().parent
    settings = _settings(doc, base, env, problems)
    sources = _sources(doc.get("sources", []), base, env, problems, optional="listen" in doc)
    listen = None
    if "listen" in doc:
        listen = check_listen(_section(ListenSection, doc["listen"], "[listen]", problems),
                              base, "[listen]", problems, env)
    service = _service(doc.get("service", {}), problems)
    problems += template_problems(service.viewer_url, "[service]: viewer_url")
    tokens = _tokens(service, base, env, problems)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise UsageError(f"config file {str(path)!r} has {count}:\n"
                         + "\n".join(f"  - {p}" for p in problems))
    assert settings is not None
    return Config(settings, sources, service, tokens, path, listen)


def describe() -> dict[str, list[tuple[str, Any, str]]]:
    """Every key the file accepts, per section, as (name, default, help)."""
    return {"top level": list(declared(Settings)),
            "[[sources]] folder/zip/dicomdir": list(declared(PathSource)),
            "[[sources]] orthanc": list(declared(OrthancSource)),
            "[[sources]] dicomweb": list(declared(DicomwebSource)),
            "[[sources]] dimse": list(declared(DimseSource)),
            "[service]": list(declared(ServiceSection)),
            "[[service.cds_clients]]": list(declared(CdsClient)),
            "[listen]": list(declared(ListenSection))}


def _settings(doc: dict[str, Any], base: Path, env: Mapping[str, str],
              problems: list[str]) -> Settings | None:
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in doc.items():
        if key in _SECTIONS:
            continue
        if key not in known:
            problems.append(_unknown(key, [*known, *_SECTIONS], "top-level key"))
            continue
        value = _typed(raw, known[key], key, problems)
        if value is not MISSING:
            values[key] = value
    for name in PATH_SETTINGS & values.keys():
        if values[name] and not str(values[name]).startswith(SHIPPED_TABLE):
            values[name] = str(base / values[name])
    _check_paths({**values, **{n: env[env_name(n)] for n in PATH_SETTINGS if env_name(n) in env}},
                 problems)
    try:
        return Settings(**values).with_env(env)
    except UsageError as exc:
        problems.append(str(exc))
        return None


def _check_paths(values: dict[str, Any], problems: list[str]) -> None:
    for name in sorted(PATH_SETTINGS & values.keys()):
        value = values[name]
        if not isinstance(value, str) or not value or value.startswith(SHIPPED_TABLE):
            continue  # shipped tables are checked by whoever reads them
        if name == "archive" and Path(value).is_dir():
            problems.append(f"archive={value!r} is a folder; name a file such as "
                            "archive.duckdb inside it")
        elif name == "state_dir":
            if Path(value).exists() and not Path(value).is_dir():
                problems.append(f"state_dir={value!r} is not a folder")
        elif name != "archive" and not Path(value).is_file():
            problems.append(f"{name}={value!r} is not a file")


def _sources(raw: Any, base: Path, env: Mapping[str, str], problems: list[str], *,
             optional: bool = False) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        problems.append("sources must be an array of tables: one [[sources]] block per source")
        return ()
    if not raw and not optional:  # a [listen]-only configuration needs none
        problems.append("no sources configured; add a [[sources]] block (see deploy/dedup.toml)")
    out: list[Source] = []
    seen: set[str] = set()
    for n, table in enumerate(raw):
        name = table.get("name")
        where = f"sources[{n}]" + (f" ({name})" if isinstance(name, str) else "")
        kind = table.get("type")
        if kind not in _SOURCE_TYPES:
            problems.append(f"{where}: type={kind!r} is not one of "
                            f"{', '.join(_SOURCE_TYPES)}")
            continue
        table = {**table, **_source_env(name, _SOURCE_TYPES[kind], env, problems)}
        source = _section(_SOURCE_TYPES[kind], table, where, problems)
        if not _NAME.match(source.name):
            problems.append(f"{where}: name={source.name!r} must be 1-64 letters, digits, "
                            "'-' or '_' (it names the spool folder)")
        elif source.name in seen:
            problems.append(f"{where}: name {source.name!r} is used by another source")
        seen.add(source.name)
        if isinstance(source, PathSource):
            if not source.path:
                problems.append(f"{where}: path is required for a {kind} source")
            source = replace(source, path=str(base / source.path))
        elif isinstance(source, DicomwebSource):
            source = resolved(source, base)
            problems += dicomweb_problems(source, where, env)
        elif isinstance(source, DimseSource):
            check_dimse(source, where, problems)
        else:
            _check_orthanc(source, where, env, problems)
        out.append(source)
    return tuple(out)


def _source_env(name: Any, cls: type, env: Mapping[str, str], problems: list[str]
                ) -> dict[str, Any]:
    """``DEDUP_SOURCE_<NAME>_<FIELD>`` overrides for one source (name upper-cased, - to _)."""
    if not isinstance(name, str):
        return {}
    prefix = f"{ENV_PREFIX}SOURCE_{name.upper().replace('-', '_')}_"
    return env_overrides(cls, env, problems, prefix=prefix, skip=("name", "type"))


def _check_orthanc(source: OrthancSource, where: str, env: Mapping[str, str],
                   problems: list[str]) -> None:
    url = urlsplit(source.url)
    if url.scheme not in ("http", "https") or not url.hostname:
        problems.append(f"{where}: url={source.url!r} must be http(s)://host[:port][/prefix]")
    if url.username or url.password:
        problems.append(f"{where}: put credentials in username and password_env, not the url")
    if source.password_env and source.password_env not in env:
        problems.append(f"{where}: password_env names {source.password_env!r}, which is not "
                        "set in the environment")
    if source.username and not source.password_env:
        problems.append(f"{where}: username is set but password_env is not; name the "
                        "environment variable that holds the password")
    for name, low in (("timeout", 0.001), ("retries", 1), ("backoff", 0), ("backoff_max", 0),
                      ("page_size", 1), ("max_failures", 1)):
        if getattr(source, name) < low:
            problems.append(f"{where}: {name}={getattr(source, name)!r} must be >= {low}")


def _section(cls: Any, raw: Any, where: str, problems: list[str]) -> Any:
    """Build a section dataclass from a table, collecting unknown keys and type errors."""
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table")
        return cls()
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            problems.append(_unknown(key, list(known), f"{where} key"))
            continue
        typed = _typed(value, known[key], f"{where}: {key}", problems)
        if typed is not MISSING:
            values[key] = typed
    return cls(**values)


def _typed(raw: Any, spec: Field[Any], where: str, problems: list[str]) -> Any:
    """Check ``raw`` against the field's type; a quoted value is read as the environment's."""
    kind = type(spec.default)
    if isinstance(raw, str) and kind is not str:
        with contextlib.suppress(UsageError):
            raw = from_text(raw, kind, where)
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if type(raw) is kind:
        return raw
    problems.append(f"{where}={raw!r} must be {_type_name(kind)} (default {spec.default!r})")
    return MISSING


def _type_name(kind: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(kind, kind.__name__)


def _unknown(key: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return f"unknown {what} {key!r}{hint}"


def _service(raw: Any, problems: list[str]) -> ServiceSection:
    """``[service]`` with its ``[[service.cds_clients]]`` tables, checked together."""
    tables, problem = raw_clients(raw.pop("cds_clients", None) if isinstance(raw, dict)
                                  else None)
    problems += [problem] if problem else []
    service = _section(ServiceSection, raw, "[service]", problems)
    clients = tuple(_section(CdsClient, t, f"[[service.cds_clients]][{n}]", problems)
                    for n, t in enumerate(tables))
    problems += client_problems(clients, service.public_url, "[[service.cds_clients]]")
    if not 0 <= service.cds_leeway_seconds <= 300:
        problems.append(f"[service]: cds_leeway_seconds={service.cds_leeway_seconds} must be "
                        "in [0, 300]")
    for name in ("cds_jwks_ttl_seconds", "cds_jwks_refetch_seconds"):
        if getattr(service, name) <= 0:
            problems.append(f"[service]: {name}={getattr(service, name)} must be > 0")
    return replace(service, cds_clients=clients)


def _tokens(service: ServiceSection, base: Path, env: Mapping[str, str],
            problems: list[str]) -> tuple[str, ...]:
    """The entries of ``tokens_env`` and ``tokens_file``, checked as the service checks them."""
    entries = split_tokens(env.get(service.tokens_env, ""))
    if service.tokens_file:
        try:
            entries += read_tokens_file(base / service.tokens_file,
                                        f"tokens_file={service.tokens_file!r}")
        except UsageError as exc:
            problems.append(f"[service]: {exc}")
    try:
        accepted_tokens(entries)
    except UsageError as exc:
        problems.append(f"[service]: {exc}")
    return tuple(entries)
