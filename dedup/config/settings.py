"""Settings, each declared once with its default and help text.

The CLI options, the settings table of docs/configuration.md and ``tests/test_docs.py`` read
:data:`SETTINGS`, so a setting cannot be documented in one place and differ in another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from dedup.config.env import env_name, env_overrides
from dedup.errors import UsageError


def setting(default: Any, help: str) -> Any:
    """A dataclass field with its help text: how every setting and file key is declared."""
    return field(default=default, metadata={"help": help})


def declared(spec: type) -> tuple[tuple[str, Any, str], ...]:
    """A dataclass's fields declared with :func:`setting`, as (name, default, help)."""
    return tuple((f.name, f.default, f.metadata["help"]) for f in fields(spec))


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of the batch. Override with ``DEDUP_<NAME>`` environment variables."""

    archive: str = setting("archive.duckdb", "DuckDB archive file.")
    state_dir: str = setting(
        "", "Folder of the check service's own state, made mode 700 if missing: the check "
        "log (`<archive name>.checks.sqlite`) and its pseudonym key. The server, `dedup "
        "check` and the nightly fold read it from here. Empty: next to the archive."
    )
    workers: int = setting(0, "Worker processes for reading and fingerprinting (0 = all cores).")
    batch_files: int = setting(2000, "Files committed per archive transaction.")
    num_perm: int = setting(128, "MinHash permutations per study signature.")
    lsh_bands: int = setting(32, "LSH bands per signature (rows per band = num_perm / bands).")
    zip_member_max_bytes: int = setting(
        2 * 1024**3, "Largest uncompressed zip member read; larger members are quarantined."
    )
    zip_max_ratio: int = setting(
        200, "Largest compression ratio of a zip member before it counts as a zip bomb."
    )
    publish: bool = setting(
        True, "Publish a read-only snapshot for the check service and dashboard after a run."
    )
    mmap_threshold: int = setting(
        16 * 1024**2, "Files at least this large are memory-mapped instead of read whole."
    )
    max_file_bytes: int = setting(
        4 * 1024**3, "Largest file read (bytes); a larger one is quarantined as `too-large`, "
        "so one input never takes more memory than this."
    )
    match_partial_containment: float = setting(
        0.9, "Share of the smaller study's instance pixel hashes found in the other study "
        "for `partial` (all of them and the same count = `same-content`)."
    )
    match_near_min_structure: float = setting(
        0.95, "Least estimated correlation of two images' fine structure (acquisition "
        "signatures, 128 grid) for one to be a copy of the other: a lossy or 8-bit copy "
        "keeps its source's edges exactly where they were, a new acquisition does not."
    )
    match_near_noise_support: float = setting(
        0.45, "Least noise correlation that backs a structure match of two images of one "
        "size (or the alignment does): an X-ray retaken a millimetre away keeps the "
        "structure, not the noise."
    )
    match_near_min_alignment: float = setting(
        0.9998, "Least estimated correlation of two images' coarse content (acquisition "
        "signatures, 32 grid) that backs a structure match whose noise did not survive (a "
        "copy cut to 8 bits or compressed hard): such a copy stays in place to a few parts "
        "in 100,000, a new acquisition a tenth of a millimetre away moves ten times as much."
    )
    match_near_min_resized: float = setting(
        0.75, "Least structure correlation for a copy resampled by a power of two (rows and "
        "columns both halved, say), or for a copy with its source's exposure record (table "
        "height, position, counts or dose) stored otherwise, one of them lossily: the "
        "geometry backs the pixels, no new acquisition comes out at exactly half the size "
        "of another, and a new one has the patient placed again."
    )
    match_near_min_noise: float = setting(
        0.6, "Least estimated correlation of two images' noise (acquisition signatures: the "
        "central pixels of images of 128 pixels a side and more) for one to be a copy of "
        "the other of the same size: a copy keeps its source's noise, a new acquisition "
        "has its own."
    )
    match_near_min_fraction: float = setting(
        0.5, "Share of the smaller study's instances with a copy partner for `near` (two "
        "studies without shared pixels: a lossy, resampled or re-identified copy)."
    )
    match_common_pixel_patients: int = setting(
        10, "A pixel hash held by the studies of more than this many patients (a blank "
        "frame, test image or placeholder) is ignored when comparing pixel sets; blank "
        "(constant) images always are."
    )
    match_candidate_header_jaccard: float = setting(
        0.5, "Least estimated header-token Jaccard for a pair that shares header bands but no "
        "pixels to be compared pixel by pixel (the pixels decide; this bounds the work)."
    )
    link_threshold: float = setting(
        0.99, "Least Fellegi-Sunter match probability to link two patient records."
    )
    link_prior: float = setting(
        1e-5, "Prior probability that two random patient records are the same person."
    )
    procedure_families: str = setting(
        "", "CSV of procedure family rules (empty = the shipped dedup/data/procedure_families.csv)."
    )
    lookback_windows: str = setting(
        "", "CSV of look-back windows per family "
        "(empty = the shipped dedup/data/lookback_windows.csv)."
    )
    fail_on_quarantine: bool = setting(
        False, "`dedup nightly` exits 1 (partial) when any input of the run was quarantined."
    )
    strict_sources: bool = setting(
        True, "`dedup nightly` exits 1 (partial) when a source was unreachable or some PACS "
        "instances could not be fetched (they are retried next run)."
    )
    exam_costs: str = setting(
        "", "CSV of exam cost per procedure family, with its currency, for estimated savings "
        "(empty = the shipped dedup/data/exam_costs.csv, US Medicare in USD; "
        "`shipped:exam_costs_de_goae.csv` = the German GOÄ fees in EUR)."
    )
    effective_doses: str = setting(
        "", "CSV of typical effective dose (mSv) per procedure family "
        "(empty = the shipped dedup/data/effective_doses.csv)."
    )
    storage_costs: str = setting(
        "", "CSV of storage price per GB-month (with its currency, the exam costs' one), "
        "retention years and bytes per GB (empty = the shipped dedup/data/storage_costs.csv; "
        "`shipped:storage_costs_de.csv` = the German example in EUR)."
    )
    dashboard_drilldown: bool = setting(
        False, "Show the dashboard's patient-level drill-down (identifiers masked); "
        "off = aggregates only."
    )
    check_reload_seconds: float = setting(
        1.0, "How often the check service looks for a newly published snapshot (seconds); "
        "a new one is indexed in the background and swapped in without a restart."
    )
    check_max_body_bytes: int = setting(
        1024**2, "Largest request body the check service accepts (bytes); larger: 413."
    )
    check_max_orders: int = setting(
        50, "Most imaging orders one CDS Hooks call may ask to check; more: 400."
    )
    check_show_locations: bool = setting(
        False, "Return where a prior's images are (a folder or zip path, which can hold "
        "names or IDs) in the HTTP API and CDS cards; off: paths never leave the server."
    )
    check_header_seconds: float = setting(
        10.0, "Time a client has to send a request's headers, from connecting or from the "
        "end of its previous response (seconds); then the connection is closed."
    )
    check_body_seconds: float = setting(
        30.0, "Time a client has to send a request's body once its headers are in "
        "(seconds); then 408 and the connection is closed."
    )
    check_max_connections: int = setting(
        1000, "Open connections the check service holds at once; more are closed at once."
    )
    check_max_client_connections: int = setting(
        0, "Open connections from one address at once; more are closed at once (0: no "
        "limit per address, the right choice behind a proxy, where every connection comes "
        "from the proxy: limit per client there, e.g. nginx's limit_conn)."
    )

    def __post_init__(self) -> None:
        problems = []
        if self.num_perm % self.lsh_bands:
            problems.append(
                f"num_perm={self.num_perm} is not divisible by lsh_bands={self.lsh_bands}; "
                "choose bands that divide it (e.g. 128 and 32)"
            )
        if self.workers < 0:
            problems.append(f"workers={self.workers} must be >= 0 (0 = all cores)")
        if self.batch_files < 1:
            problems.append(f"batch_files={self.batch_files} must be >= 1")
        if self.max_file_bytes < 1:
            problems.append(f"max_file_bytes={self.max_file_bytes} must be >= 1")
        for name in ("match_partial_containment", "match_near_min_fraction",
                     "match_near_min_structure", "match_near_min_noise",
                     "match_near_min_resized", "match_near_noise_support",
                     "match_near_min_alignment",
                     "match_candidate_header_jaccard",
                     "link_threshold", "link_prior"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                problems.append(f"{name}={value} must be in (0, 1]")
        if self.match_common_pixel_patients < 1:
            problems.append(f"match_common_pixel_patients={self.match_common_pixel_patients} "
                            "must be >= 1")
        problems += _service_problems(self)
        if problems:
            raise UsageError("; ".join(problems))

    @property
    def worker_count(self) -> int:
        """The number of worker processes to start."""
        return self.workers or (os.cpu_count() or 1)

    def with_env(self, environ: Mapping[str, str] | None = None) -> Settings:
        """Return a copy with ``DEDUP_<NAME>`` environment overrides applied.

        Raises:
            UsageError: a variable's value is not of its setting's type (``"flase"`` for a
                boolean), or the overridden settings are invalid.

        """
        problems: list[str] = []
        changes = env_overrides(Settings, os.environ if environ is None else environ, problems)
        if problems:
            raise UsageError("; ".join(problems))
        return replace(self, **changes)


SETTINGS: tuple[tuple[str, Any, str], ...] = declared(Settings)


def _service_problems(settings: Settings) -> list[str]:
    """What is wrong with the check service's settings (empty when nothing)."""
    problems = []
    if settings.check_reload_seconds <= 0 or settings.check_max_body_bytes < 1024:
        problems.append("check_reload_seconds must be > 0 and check_max_body_bytes >= 1024")
    for name in ("check_header_seconds", "check_body_seconds"):
        if not 0 < getattr(settings, name) <= 3600:
            problems.append(f"{name}={getattr(settings, name)} must be in (0, 3600]")
    for name in ("check_max_orders", "check_max_connections"):
        if getattr(settings, name) < 1:
            problems.append(f"{name}={getattr(settings, name)} must be >= 1")
    if settings.check_max_client_connections < 0:
        problems.append(f"check_max_client_connections={settings.check_max_client_connections} "
                        "must be >= 0 (0: no limit per address)")
    return problems


def settings_table() -> str:
    """The settings table of docs/configuration.md, from :data:`SETTINGS` (tested against it)."""
    rows = ["| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | `{env_name(name)}` | `{default}` | {help_text} |"
             for name, default, help_text in SETTINGS]
    return "\n".join(rows)
