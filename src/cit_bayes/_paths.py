"""Where the bundled data and analysis plans live.

The project keeps its data (``data/``) and plans (``models/``) at the top of the source tree, beside
``src/``, so a reviewer finds them without opening the package. Set ``CIT_BAYES_HOME`` to point
elsewhere (for example to a copy of those two folders when the package is installed from a wheel).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "data_dir", "models_dir"]


def project_root() -> Path:
    """Return the folder that holds ``data/`` and ``models/``.

    Examples
    --------
    >>> (project_root() / "data").is_dir(), (project_root() / "models").is_dir()
    (True, True)
    """
    env = os.environ.get("CIT_BAYES_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """Return the bundled data folder (``data/``).

    Examples
    --------
    >>> data_dir().name, (data_dir() / "reconstructed" / "cohort.csv").is_file()
    ('data', True)
    """
    return project_root() / "data"


def models_dir() -> Path:
    """Return the folder of analysis plans and prior sets (``models/``).

    Examples
    --------
    >>> models_dir().name, (models_dir() / "default.toml").is_file()
    ('models', True)
    """
    return project_root() / "models"
