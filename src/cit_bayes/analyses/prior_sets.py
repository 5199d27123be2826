"""Prior sets of the patient-level models: the prior-sensitivity rows of the robustness table.

A patient-level prior set (``models/priors/patient/<name>.toml``) replaces some prior values of
the analysis plan's ``[priors.response]``, ``[priors.plt]`` and ``[priors.recovery]``; the plan's
``[robustness] prior_sets`` names the sets to fit, each on the primary estimand's weights and
covariates (:func:`cit_bayes.analyses.robustness.fit_robustness`), so the report shows how the
key answers move with the priors on the user's own cohort (BARG: Kruschke 2021).

A set changes prior *values*, which are data of the compiled models, so it costs its sampling,
not a compile; it may not change the smooth baseline's ``rank``, ``proportional_hazards`` or
``intercept_family``. One change of structure is allowed, because a prior on the *differences*
between arms needs it: ``pool_arms = true`` with ``arm_sd_fixed = true`` gives the arms a shared
level and deviations of a fixed SD (``arm_sd``), so that each pairwise difference is
N(0, 2 arm_sd^2) a priori, whatever the level (a set that does so compiles those models once).

That is how the published reanalysis's sceptical set (``models/priors/skeptical.toml``:
:mod:`cit_bayes.bayes.priors`, centred on no difference with P(OR > 3) = 5 %) carries over to
the patient-level models (``models/priors/patient/sceptical.toml``), on their scales (logit,
log count in within-patient SDs). Its other sets do not carry over as they stand: they are on
the aggregate models' scales (a rate, a mean count, mean days to recovery), and the
enthusiastic and literature sets centre each arm on a published rate of another cohort, which
at the patient level would be the reference patient's rate, a different quantity.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from cit_bayes._paths import models_dir
from cit_bayes.config import read_toml, where
from cit_bayes.exceptions import ModelError, PlanError

__all__ = [
    "MODELS",
    "PatientPriorSet",
    "apply_prior_set",
    "load_patient_prior_set",
    "patient_prior_sets",
    "patient_prior_sets_dir",
]

#: The models a patient-level prior set may change (safety is not among the key answers).
MODELS: tuple[str, ...] = ("response", "plt", "recovery")
#: Prior fields that fix a model's structure: a prior set may not change them.
STRUCTURE: frozenset[str] = frozenset(
    {"proportional_hazards", "rank", "intercept_family", "arm_slopes"}
)
#: The structure a prior set may set: arms pooled with a fixed between-arm SD (both true).
FIXED_POOLING: frozenset[str] = frozenset({"pool_arms", "arm_sd_fixed"})


@dataclass(frozen=True)
class PatientPriorSet:
    """A checked patient-level prior set.

    Attributes
    ----------
    name, title, rationale : str
    file, sha256 : str
        The file's name and the hash of its content (provenance).
    changes : dict
        Model -> {prior field -> value}: the values that replace the plan's.

    Examples
    --------
    >>> prior_set = load_patient_prior_set("wide")
    >>> prior_set.name, prior_set.changes["response"]["coefficient_sd"]
    ('wide', 2.0)
    """

    name: str
    title: str
    rationale: str
    file: str
    sha256: str
    changes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain data for ``results.json`` (``robustness.prior_sets``)."""
        return dataclasses.asdict(self)


def patient_prior_sets_dir() -> Path:
    """The folder of patient-level prior sets (``models/priors/patient``).

    Examples
    --------
    >>> patient_prior_sets_dir().name
    'patient'
    """
    return models_dir() / "priors" / "patient"


def patient_prior_sets() -> list[str]:
    """Names of the bundled patient-level prior sets.

    Examples
    --------
    >>> patient_prior_sets()
    ['narrow', 'sceptical', 'wide']
    """
    return sorted(path.stem for path in patient_prior_sets_dir().glob("*.toml"))


def load_patient_prior_set(name: str) -> PatientPriorSet:
    """Load and check a bundled patient-level prior set by name.

    Raises
    ------
    PlanError
        An unknown set, a section or model it may not have, a structural or unknown field, or
        a value of the wrong type (checked against the model's prior class).

    Examples
    --------
    >>> narrow = load_patient_prior_set("narrow")
    >>> narrow.file, sorted(narrow.changes), narrow.changes["recovery"]["intercept_sd"]
    ('narrow.toml', ['plt', 'recovery', 'response'], 0.75)
    >>> load_patient_prior_set("vague")
    Traceback (most recent call last):
    ...
    cit_bayes.exceptions.PlanError: unknown patient-level prior set 'vague'; known: ['narrow', 'sceptical', 'wide']
    """
    known = patient_prior_sets()
    if name not in known:
        raise PlanError(f"unknown patient-level prior set {str(name)[:64]!r}; known: {known}")
    document = read_toml(patient_prior_sets_dir() / f"{name}.toml", "patient-level prior set")
    source, data = document.source, dict(document.data)
    head = data.pop("prior_set", None)
    if not isinstance(head, dict) or set(head) != {"name", "title", "rationale"}:
        raise PlanError(f"{where(source, 'prior_set')}: needs exactly name, title and rationale")
    if head["name"] != name:
        raise PlanError(
            f"{where(source, 'prior_set.name')}: {head['name']!r} is not the file's name"
        )
    priors = data.pop("priors", None)
    if data or not isinstance(priors, dict) or set(priors) - set(MODELS):
        raise PlanError(
            f"{source}: holds [prior_set] and [priors.<model>] tables for {', '.join(MODELS)}"
        )
    changes = {}
    for model, table in priors.items():
        _check_changes(model, table, source)
        changes[model] = dict(table)
    return PatientPriorSet(
        name=name,
        title=str(head["title"]),
        rationale=" ".join(str(head["rationale"]).split()),
        file=Path(source).name,
        sha256=document.sha256,
        changes=changes,
    )


def _check_changes(model: str, table, source: str) -> None:
    from cit_bayes.plan import prior_class  # the plan maps models to their prior classes

    section = f"priors.{model}"
    if not isinstance(table, dict) or not table:
        raise PlanError(f"{where(source, section)}: a table of prior values")
    names = {f.name for f in dataclasses.fields(prior_class(model))}
    for key in table:
        if key in STRUCTURE or (key == "pool_arms" and model == "recovery"):
            raise PlanError(
                f"{where(source, f'{section}.{key}')}: fixes the model's structure; a prior set "
                "changes prior values only (or pools the response and trajectory arms with a "
                "fixed SD: pool_arms and arm_sd_fixed, both true)"
            )
        if key not in names:
            raise PlanError(
                f"{where(source, f'{section}.{key}')}: not a prior of the {model} model"
            )
    pooling = {key: table[key] for key in FIXED_POOLING if key in table}
    if pooling and pooling != dict.fromkeys(FIXED_POOLING, True):
        raise PlanError(
            f"{where(source, section)}: pool_arms and arm_sd_fixed go together, both true (arms "
            f"pooled with a fixed between-arm SD), got {pooling}"
        )
    try:
        dataclasses.replace(prior_class(model)(), **table)
    except (TypeError, ValueError, ModelError) as error:
        raise PlanError(f"{where(source, section)}: {error}") from None


def apply_prior_set(priors: dict, prior_set: PatientPriorSet) -> dict:
    """The plan's priors (model -> prior dataclass) with the set's values in place.

    Examples
    --------
    >>> from cit_bayes.plan import load_plan
    >>> plan = load_plan()
    >>> priors = apply_prior_set(plan.priors, load_patient_prior_set("narrow"))
    >>> priors["response"].intercept_sd, priors["response"].intercept_family
    (0.5, 'logistic')
    >>> priors["safety"] == plan.priors["safety"]
    True
    """
    out = dict(priors)
    for model, values in prior_set.changes.items():
        out[model] = dataclasses.replace(out[model], **values)
    return out
