"""The lexicon of formulas (`corpus/formulas.yaml`): named phrases of Chinese and Russian
political language with their variants per language, read and validated into Formula values.

Variants are compared under the matching model, so two variants that differ only in
case, hyphens or punctuation are the same variant (and rejected as duplicates).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from indexer.text import terms

LANGUAGES = ("en", "zh", "ru")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "label", "variants", "languages", "notes", "tags"}


@dataclass(frozen=True, slots=True)
class Formula:
    """A named formula: a label, its variants per language (as written), notes and tags.

    Within one language no variant is contained in another (as consecutive tokens), so
    a formula's occurrences are the sum of its variants' occurrences, never counted twice.
    """

    id: str
    label: str
    variants: Mapping[str, tuple[str, ...]] = field(hash=False)
    notes: str = ""
    tags: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the formula has variants in, in LANGUAGES order."""
        return tuple(lang for lang in LANGUAGES if lang in self.variants)


def _contains(longer: list[str], shorter: list[str]) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))


def formula_from_mapping(data: Any, where: str = "<formula>") -> Formula:
    """Validate one lexicon entry (a parsed YAML mapping) and build a Formula.

    Raises ValueError naming `where`, the formula id and the problem: a missing or
    malformed field, an unknown key or language, an empty variant list, a variant
    without words, or two variants of one language where one contains the other.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: a formula must be a mapping")
    fid = data.get("id")
    if not isinstance(fid, str) or not _ID.match(fid):
        raise ValueError(f"{where}: formula id {fid!r} must be a lowercase slug like 'new-era'")
    here = f"{where}: formula {fid!r}"
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"{here}: unknown keys {sorted(unknown)}")
    label = data.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"{here}: 'label' is required")
    raw = data.get("variants")
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(f"{here}: 'variants' must map languages to lists of phrases")
    variants: dict[str, tuple[str, ...]] = {}
    for lang, phrases in raw.items():
        if lang not in LANGUAGES:
            raise ValueError(f"{here}: unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
        if not isinstance(phrases, list) or not phrases:
            raise ValueError(f"{here}: variants for {lang!r} must be a non-empty list")
        folded: list[list[str]] = []
        for phrase in phrases:
            if not isinstance(phrase, str) or not terms(phrase):
                raise ValueError(f"{here}: {lang} variant {phrase!r} holds no words")
            tokens = terms(phrase)
            for other, prev in zip(folded, phrases, strict=False):
                if tokens == other:
                    raise ValueError(
                        f"{here}: {lang} variants {prev!r} and {phrase!r} are the same"
                    )
                if _contains(tokens, other) or _contains(other, tokens):
                    raise ValueError(
                        f"{here}: {lang} variants {prev!r} and {phrase!r} overlap "
                        "(one contains the other, so it would be counted twice)"
                    )
            folded.append(tokens)
        variants[lang] = tuple(p.strip() for p in phrases)
    declared = data.get("languages")
    if declared is not None and (
        not isinstance(declared, list) or sorted(declared) != sorted(variants)
    ):
        raise ValueError(
            f"{here}: 'languages' {declared!r} does not match the variant languages "
            f"{sorted(variants)}"
        )
    notes = data.get("notes", "")
    if not isinstance(notes, str):
        raise ValueError(f"{here}: 'notes' must be text")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise ValueError(f"{here}: 'tags' must be a list of words")
    return Formula(
        id=fid,
        label=label.strip(),
        variants=variants,
        notes=" ".join(notes.split()),
        tags=tuple(tags),
    )


def load_formulas(path: str | Path) -> list[Formula]:
    """Read the lexicon at `path`: a YAML list of formulas, or a mapping with `formulas:`.

    Returns the formulas in file order. Raises ValueError naming the formula on any
    invalid entry (see `formula_from_mapping`), a repeated id, or one variant (same
    language, same tokens) claimed by two formulas; FileNotFoundError if `path` is missing.
    """
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not valid YAML: {exc}") from None
    if isinstance(data, Mapping):
        data = data.get("formulas")
    if not isinstance(data, list):
        raise ValueError(f"{file}: expected a list of formulas (or 'formulas:' holding one)")
    out: list[Formula] = []
    ids: set[str] = set()
    owners: dict[tuple[str, tuple[str, ...]], str] = {}
    for k, entry in enumerate(data):
        formula = formula_from_mapping(entry, f"{file} entry {k + 1}")
        if formula.id in ids:
            raise ValueError(f"{file}: formula id {formula.id!r} is defined twice")
        ids.add(formula.id)
        for lang, phrases in formula.variants.items():
            for phrase in phrases:
                key = (lang, tuple(terms(phrase)))
                if key in owners:
                    raise ValueError(
                        f"{file}: formula {formula.id!r}: {lang} variant {phrase!r} "
                        f"already belongs to formula {owners[key]!r}"
                    )
                owners[key] = formula.id
        out.append(formula)
    return out
