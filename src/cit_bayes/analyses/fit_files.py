"""Fits as netCDF files: what a run keeps of each sampled or drawn model.

:func:`save_fit` writes a fit's ArviZ DataTree with its provenance attributes, optionally
keeping only some data variables (a patient-level fit keeps its prior settings, no row of the
cohort); :func:`load_idata` reads one back.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

__all__ = ["save_fit", "load_idata"]


def save_fit(fit, path: str | Path, *, keep_data=None) -> Path:
    """Write a fit's InferenceData to netCDF, its provenance attributes included.

    Parameters
    ----------
    fit : cit_bayes.bayes.sampling.Fit or xarray.DataTree
    path : str or Path
        The ``.nc`` file to write (its folder is created).
    keep_data : callable, optional
        ``keep_data(name) -> bool`` selects the variables of the ``constant_data`` and
        ``observed_data`` groups that are written (default: all). Patient-level fits keep only
        their prior settings, so that no row-level value of a cohort leaves memory.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:  # the idata folder is created
    ...     save_fit(xr.DataTree(), Path(folder) / "idata" / "fit.nc").name
    'fit.nc'
    """
    idata = fit if isinstance(fit, xr.DataTree) else fit.idata
    if keep_data is not None:
        groups = {}
        for group in idata.children:
            dataset = idata[group].to_dataset()
            if group in ("constant_data", "observed_data"):
                dataset = dataset[[name for name in dataset.data_vars if keep_data(str(name))]]
                if not dataset.data_vars:
                    continue
            groups[group] = dataset
        idata = xr.DataTree.from_dict(groups)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(path), engine="h5netcdf")
    return path


def load_idata(path: str | Path) -> xr.DataTree:
    """Read a fit written by :func:`save_fit` (provenance in ``idata["posterior"].attrs``).

    Examples
    --------
    >>> import tempfile
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": ("draw", [0.5, 1.5])})})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_idata(save_fit(tree, Path(folder) / "fit.nc"))["posterior"]["mu"].values.tolist()
    [0.5, 1.5]
    """
    return xr.load_datatree(str(path), engine="h5netcdf")
