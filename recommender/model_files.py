"""Fitted models on disk: one folder per version under ``NEXUS_MODEL_DIR`` with the model and its catalog
artifact, written by a training and read by per-user refreshes (a worker keeps the current one in memory)."""

import shutil
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from recommender.algorithms import load_model
from recommender.algorithms.hybrid import Hybrid
from recommender.catalog_artifact import Catalog
from recommender.models import ModelRun

MODEL_FILE, CATALOG_FILE = "model.npz", "catalog.npz"


def _model_dir(version: str) -> Path:
    return Path(settings.NEXUS_MODEL_DIR) / version


def model_save(version: str, model: Hybrid, catalog: Catalog) -> None:
    folder = _model_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    catalog.save(folder / CATALOG_FILE)


def model_load(version: str) -> tuple[Hybrid, Catalog]:
    """The saved model of a version; a worker keeps the current one in memory between refreshes."""
    return _model_files_load(_model_dir(version))


@lru_cache(maxsize=1)
def _model_files_load(folder: Path) -> tuple[Hybrid, Catalog]:
    return load_model(folder / MODEL_FILE), Catalog.load(folder / CATALOG_FILE)


def model_delete(version: str) -> None:
    shutil.rmtree(_model_dir(version), ignore_errors=True)


def models_prune(*, live: str) -> None:
    """Deletes the saved models of earlier versions, except the one ``live`` replaced (a refresh that started
    before the switch may still read it). By name, so that a folder shared by mistake loses nothing else."""
    earlier = ModelRun.objects.filter(status=ModelRun.Status.SUCCEEDED).exclude(version=live)
    for version in earlier.order_by("-finished_at").values_list("version", flat=True)[1:]:
        model_delete(version)
