"""The migration policy: which tool turns which format into what, for preservation and access, as data.

The defaults ship in `strongroom/data/migration-policy.toml`; an archive changes them in
`<home>/migration-policy.toml`, same layout: a rule with a packaged rule's id replaces it (in its place),
`enabled = false` drops it, a new id adds a rule (tried before the packaged ones, so it wins for its PUIDs);
[settings] keys and [tools] keys are laid over the packaged ones. Everything is checked on load, and any
mistake is a ConfigError naming the file and the rule, so a bad policy never reaches a tool.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from strongroom.config import read_policy
from strongroom.errors import ConfigError
from strongroom.preservation.actions import CheckKind, MigrationRule, PolicySettings, Purpose
from strongroom.preservation.toolrun import ToolSpec

PACKAGED_NAME = "migration-policy.toml"
OVERRIDE_NAME = "migration-policy.toml"

# PRONOM PUIDs; FIDO's own (fido-fmt/...) are still accepted in a home's override, as in the risk registry.
_PUID = re.compile(r"^(?:x-|fido-)?fmt/[A-Za-z0-9._-]+$")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TOOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_EXTENSION = re.compile(r"^[A-Za-z0-9]{1,10}$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")  # JSON filter options in LibreOffice args are not placeholders
# What a rule's args may name; the converter and the runner fill them in (see MigrationRule).
PLACEHOLDERS = frozenset({"input", "output", "outdir", "profile", "pdfa_def", "icc_dir", "private", "private_url"})
PDFA_FLAVOURS = frozenset({"1a", "1b", "2a", "2b", "2u", "3a", "3b", "3u"})

_TOP_KEYS = {"policy", "settings", "tools", "rules"}
_HEADER_KEYS = {"version", "date", "sources"}
_SETTINGS_KEYS = {"optional_rules", "access_fit", "concurrency"}
_TOOL_KEYS = {"label", "executables", "debian_package", "version_args", "version_pattern", "purpose"}
_RULE_FIELDS = {f.name for f in fields(MigrationRule)}
_RULE_KEYS = _RULE_FIELDS | {"enabled"}
_REQUIRED_RULE_KEYS = ("purpose", "puids", "tool", "args", "extension", "output_puids", "checks")


@dataclass(frozen=True)
class MigrationPolicy:
    rules: tuple[MigrationRule, ...]
    tools: Mapping[str, ToolSpec]
    settings: PolicySettings
    version: str  # the packaged version, plus "+<sha256 prefix>" of the archive's override when there is one
    sources: tuple[str, ...]  # the files it was read from, packaged first
    references: tuple[str, ...] = field(default=())  # whose guidance the defaults follow

    def rules_for(self, puid: str | None, purposes: Collection[Purpose] | None = None,
                  size: int | None = None) -> list[MigrationRule]:  # fmt: skip
        """The rules that apply to a file of format `puid` (and `size` bytes), in policy order: optional rules only
        when the settings enable them, rules with a max_size only for files no larger."""
        if not puid:
            return []
        found = []
        for rule in self.rules:
            if puid not in rule.puids or (purposes is not None and rule.purpose not in purposes):
                continue
            if rule.optional and not self.settings.optional_rules:
                continue
            if rule.max_size is not None and size is not None and size > rule.max_size:
                continue
            found.append(rule)
        return found

    def rule(self, rule_id: str) -> MigrationRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise ConfigError(
            f"the migration policy has no rule {rule_id!r}",
            details=[f"rules: {', '.join(r.id for r in self.rules)}", f"read from: {', '.join(self.sources)}"],
        )


def load_policy(home: Path | None) -> MigrationPolicy:
    """The packaged policy, with `<home>/migration-policy.toml` laid over it when that file exists."""
    packaged = read_policy(PACKAGED_NAME, None, "migration policy")
    where = packaged.where
    document = packaged.data
    _check_keys(document, _TOP_KEYS, where, "the file")
    header = _table(document.get("policy", {}), where, "policy")
    _check_keys(header, _HEADER_KEYS, where, "the policy table")
    settings_data = dict(_table(document.get("settings", {}), where, "settings"))
    tool_data = {name: dict(_table(t, where, f"tools.{name}")) for name, t in
                 _table(document.get("tools", {}), where, "tools").items()}  # fmt: skip
    raw_rules = _rule_list(document, where)
    rules = [(r, where) for r in raw_rules]
    sources = [where]
    version = str(header.get("version", ""))

    override_path = home / OVERRIDE_NAME if home is not None else None
    if override_path is not None and override_path.is_file():
        try:
            digest = hashlib.sha256(override_path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(f"cannot read the migration policy {override_path}: {exc.strerror}.") from exc
        override = read_policy(PACKAGED_NAME, override_path, "migration policy")
        owhere = override.where
        _check_keys(override.data, _TOP_KEYS, owhere, "the file")
        oheader = _table(override.data.get("policy", {}), owhere, "policy")
        _check_keys(oheader, _HEADER_KEYS, owhere, "the policy table")
        settings_data.update(_table(override.data.get("settings", {}), owhere, "settings"))
        for name, table in _table(override.data.get("tools", {}), owhere, "tools").items():
            tool_data.setdefault(name, {}).update(_table(table, owhere, f"tools.{name}"))
        rules = _merge_rules(rules, _rule_list(override.data, owhere), owhere)
        sources.append(owhere)
        version = f"{version}+{digest[:12]}"

    tools = {name: _tool(name, data, sources[-1] if len(sources) > 1 else where) for name, data in tool_data.items()}
    settings = _settings(settings_data, sources[-1] if len(sources) > 1 else where)
    built = tuple(_rule(data, tools, label) for data, label in rules if data.get("enabled", True) is not False)
    references = header.get("sources", [])
    return MigrationPolicy(
        rules=built, tools=MappingProxyType(tools), settings=settings, version=version, sources=tuple(sources),
        references=tuple(str(s) for s in references) if isinstance(references, list) else (),
    )  # fmt: skip


# --- parsing ---------------------------------------------------------------------------------------------


def _table(value: object, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {what} must be a table.")
    return value


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str, what: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: {what} has unknown key(s) {', '.join(sorted(unknown))}.",
                          details=[f"allowed: {', '.join(sorted(allowed))}"])  # fmt: skip


def _rule_list(document: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    rules = document.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise ConfigError(f"{where}: rules must be a list of tables, one per rule (see the packaged file).")
    seen: set[str] = set()
    for number, rule in enumerate(rules, start=1):
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
            raise ConfigError(f"{where}: rule number {number} needs an id of lower-case letters, digits and dashes "
                              f"(found {rule_id!r}).")  # fmt: skip
        if rule_id in seen:
            raise ConfigError(f"{where}: rule {rule_id!r} appears twice; give each rule its own id.")
        seen.add(rule_id)
    return rules


def _merge_rules(packaged: list[tuple[dict[str, Any], str]], override: list[dict[str, Any]],
                 where: str) -> list[tuple[dict[str, Any], str]]:  # fmt: skip
    by_id = {data["id"]: i for i, (data, _label) in enumerate(packaged)}
    merged = list(packaged)
    added: list[tuple[dict[str, Any], str]] = []
    for data in override:
        if data["id"] in by_id:
            merged[by_id[data["id"]]] = (data, where)
        elif data.get("enabled", True) is False:
            raise ConfigError(f"{where}: rule {data['id']!r} is disabled but there is no packaged rule of that id.",
                              details=["packaged rules: " + ", ".join(d["id"] for d, _ in packaged)])  # fmt: skip
        else:
            added.append((data, where))
    return added + merged


def _tool(name: str, data: Mapping[str, Any], where: str) -> ToolSpec:
    what = f"tool {name!r}"
    if not _TOOL_NAME.match(name):
        raise ConfigError(f"{where}: {what}: a tool name is lower-case letters, digits, dashes and underscores.")
    _check_keys(data, _TOOL_KEYS, where, what)
    for key in ("executables", "debian_package", "version_pattern", "purpose"):
        if key not in data:
            raise ConfigError(f"{where}: {what} has no {key}.")
    executables = _strings(data["executables"], where, f"{what}: executables", allow_empty=False)
    pattern = _string(data["version_pattern"], where, f"{what}: version_pattern")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: {what}: version_pattern is not a valid regular expression: {exc}.") from exc
    return ToolSpec(
        name=name, executables=executables, debian_package=_string(data["debian_package"], where, f"{what}: package"),
        version_args=_strings(data.get("version_args", []), where, f"{what}: version_args"), version_pattern=pattern,
        purpose=_string(data["purpose"], where, f"{what}: purpose"), label=_string(data.get("label", ""), where, what),
    )  # fmt: skip


def _settings(data: Mapping[str, Any], where: str) -> PolicySettings:
    _check_keys(data, _SETTINGS_KEYS, where, "the settings table")
    optional = data.get("optional_rules", False)
    if not isinstance(optional, bool):
        raise ConfigError(f"{where}: settings: optional_rules must be true or false.")
    concurrency = data.get("concurrency", 0)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 0:
        raise ConfigError(f"{where}: settings: concurrency must be a whole number, 0 (one per CPU) or more.")
    fit = _puids(data.get("access_fit", []), where, "settings: access_fit", allow_empty=True)
    return PolicySettings(optional_rules=optional, access_fit=fit, concurrency=concurrency)


def _rule(data: Mapping[str, Any], tools: Mapping[str, ToolSpec], where: str) -> MigrationRule:
    rule_id = data["id"]
    what = f"rule {rule_id!r}"
    _check_keys(data, _RULE_KEYS, where, what)
    missing = [key for key in _REQUIRED_RULE_KEYS if key not in data]
    if missing:
        hint = "a rule replacing a packaged one must be complete: copy it and change it"
        raise ConfigError(f"{where}: {what} has no {', '.join(missing)}.", details=[hint])
    try:
        purpose = Purpose(data["purpose"])
    except ValueError:
        raise ConfigError(f"{where}: {what}: purpose {data['purpose']!r} is not one of "
                          f"{', '.join(p.value for p in Purpose)}.") from None  # fmt: skip
    tool = _string(data["tool"], where, f"{what}: tool")
    if tool not in tools:
        raise ConfigError(f"{where}: {what} names the tool {tool!r}, which the tools table does not define.",
                          details=[f"tools: {', '.join(sorted(tools))}"])  # fmt: skip
    args = _strings(data["args"], where, f"{what}: args", allow_empty=False)
    named = {m.group(1) for a in args for m in _PLACEHOLDER.finditer(a)}
    unknown = named - PLACEHOLDERS
    if unknown:
        raise ConfigError(f"{where}: {what}: unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}"
                          " in args.", details=[f"placeholders: {', '.join(sorted(PLACEHOLDERS))}"])  # fmt: skip
    if "input" not in named or not named & {"output", "outdir"}:
        raise ConfigError(f"{where}: {what}: args must name the file read, {{input}}, and where the result goes, "
                          "{output} (a file) or {outdir} (a folder the tool writes into).")  # fmt: skip
    extension = _string(data["extension"], where, f"{what}: extension")
    if not _EXTENSION.match(extension):
        raise ConfigError(f"{where}: {what}: extension {extension!r} must be 1-10 letters or digits, without a dot.")
    checks: list[CheckKind] = []
    for check in _strings(data["checks"], where, f"{what}: checks", allow_empty=False):
        try:
            checks.append(CheckKind(check))
        except ValueError:
            raise ConfigError(f"{where}: {what}: unknown check {check!r}.",
                              details=[f"checks: {', '.join(c.value for c in CheckKind)}"]) from None  # fmt: skip
    if CheckKind.FORMAT not in checks:
        raise ConfigError(f"{where}: {what}: checks must include \"format\" (the output re-identified as one of "
                          "output_puids); without it nothing proves the tool made what the rule promises.")  # fmt: skip
    pdfa = _string(data.get("pdfa_flavour", "2b"), where, f"{what}: pdfa_flavour").lower()
    if pdfa not in PDFA_FLAVOURS:
        raise ConfigError(f"{where}: {what}: pdfa_flavour {pdfa!r} is not one of {', '.join(sorted(PDFA_FLAVOURS))}.")
    optional = data.get("optional", False)
    if not isinstance(optional, bool):
        raise ConfigError(f"{where}: {what}: optional must be true or false.")
    return MigrationRule(
        id=rule_id, purpose=purpose, puids=_puids(data["puids"], where, f"{what}: puids"), tool=tool,
        args=args, extension=extension, output_puids=_puids(data["output_puids"], where, f"{what}: output_puids"),
        checks=tuple(dict.fromkeys(checks)), description=_string(data.get("description", ""), where, what),
        time_limit=_number(data.get("time_limit", 600.0), where, f"{what}: time_limit", minimum=0.0, open_low=True),
        memory_limit=_size(data.get("memory_limit"), where, f"{what}: memory_limit"),
        max_size=_size(data.get("max_size"), where, f"{what}: max_size"), optional=optional,
        text_overlap=_number(data.get("text_overlap", 0.9), where, f"{what}: text_overlap", 0.0, 1.0, open_low=True),
        duration_tolerance=_number(data.get("duration_tolerance", 0.1), where, f"{what}: duration_tolerance", 0.0),
        pdfa_flavour=pdfa,
    )  # fmt: skip


def _string(value: object, where: str, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {what} must be a string (found {value!r}).")
    return value


def _strings(value: object, where: str, what: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {what} must be a list of strings.")
    if not value and not allow_empty:
        raise ConfigError(f"{where}: {what} must not be empty.")
    return tuple(value)


def _puids(value: object, where: str, what: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    puids = _strings(value, where, what, allow_empty=allow_empty)
    bad = [p for p in puids if not _PUID.match(p)]
    if bad:
        raise ConfigError(f"{where}: {what}: {', '.join(repr(b) for b in bad)} is not a PRONOM PUID "
                          "(such as fmt/40 or x-fmt/394).")  # fmt: skip
    return tuple(dict.fromkeys(puids))


def _number(value: object, where: str, what: str, minimum: float | None = None, maximum: float | None = None,
            *, open_low: bool = False) -> float:  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {what} must be a number (found {value!r}).")
    number = float(value)
    too_low = minimum is not None and (number <= minimum if open_low else number < minimum)
    if too_low or (maximum is not None and number > maximum):
        low = f"more than {minimum:g}" if open_low else f"at least {minimum:g}"
        high = f" and at most {maximum:g}" if maximum is not None else ""
        raise ConfigError(f"{where}: {what} must be {low}{high} (found {value!r}).")
    return number


def _size(value: object, where: str, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {what} must be a whole number of bytes above 0 (found {value!r}).")
    return value
