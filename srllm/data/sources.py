"""One resolver for every stage's data: the profile's data-source section -> validated records.

Each profile names, per dataset (``cmd``, ``toxigen``), where the data comes from
(:class:`srllm.profiles.DataSource`): the bundled sample, a Hugging Face Hub dataset
(optionally pinned to a revision), or a local file or folder. Training, the results
tables (4, 5, 7, 8) and the data chapter all call :func:`load_dataset_for` or
:func:`profile_splits`, so one setting decides what the whole book reads.

Rules (issue 15):

* **No silent fall-back.** A Hub source that cannot be read (offline, not logged in,
  the dataset's terms not accepted) raises :class:`DataSourceError` naming the dataset,
  the reason and the two ways out; the bundled sample is never used in its place.
* **Fetched once.** :func:`fetch` saves a Hub dataset into the cache
  (``<cache>/data/<owner>__<name>/<config>/<commit>/``) with the commit it came from,
  so a machine without internet (a GPU cluster node) reads the copy made elsewhere.
  A Hub source reads that copy first and touches the network only when there is none.
* **The released CMD's layout** (``Original Sentence``, ``Debiased `` with a trailing
  space, ``BIAS``; one split named ``test``) is matched by the CMD loader's header rules
  (case and surrounding spaces ignored, ``debiased`` an alias of ``safe_variation``), and
  the single split is divided into train/dev/test in Table 1's 13,999 : 1,999 : 4,001
  proportions, stratified on the source's ``stratify`` labels (the bias label for the
  paper profile) and seeded with the profile's seed.

The returned :class:`LoadedData` carries plain ``info`` (dataset, where from, revision,
split sizes) for the run record and the data chapter; it never holds an absolute path
of the machine that built it (a local file is named by its file name only).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srllm.cache import atomic_write_text, cache_dir, write_folder
from srllm.data.loaders import detect_format, load_records, records_from_rows
from srllm.data.readers import read_rows
from srllm.data.report import LoadReport
from srllm.data.samples import SAMPLES, load_sample
from srllm.data.splits import limit, split_records
from srllm.errors import SrllmError
from srllm.models import hub_reachable

DATASET_NAMES = ("cmd", "toxigen")
# dataset -> (bundled sample name, loader format)
_SAMPLE = {"cmd": ("cmd", "cmd"), "toxigen": ("toxigen", "toxigen")}
# Environment variables that point a profile's dataset at a local copy without editing the profile.
ENV_OVERRIDE = {"cmd": "SRLLM_DATA_CMD", "toxigen": "SRLLM_DATA_TOXIGEN"}
SOURCE_FILE = "source.json"


class DataSourceError(SrllmError):
    """A profile's dataset cannot be read from where the profile says; never replaced by a sample."""


@dataclass
class LoadedData:
    """A dataset as the profile reads it: validated records, their load report, splits and plain info.

    ``splits`` (CMD only) are the full train/dev/test splits before the profile's row limits;
    :func:`profile_splits` applies those.
    """

    name: str
    records: list[Any]
    report: LoadReport
    splits: dict[str, list[Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for run records and logs: where from, revision, split sizes."""
        i = self.info
        s = i["location"]
        if i.get("config"):
            s += f" (config {i['config']})"
        if i.get("split_read"):
            s += f" [{i['split_read']}]"
        if i.get("revision"):
            s += f" @ {i['revision']}"
        s += f", {i['kept']} rows"
        if i.get("splits"):
            sz = i["splits"]
            s += (f" -> train {sz['train']} / dev {sz['dev']} / test {sz['test']} "
                  f"(stratified on {', '.join(i['stratify'])}, seed {i['seed']})")
        return s


# --- where a dataset comes from -----------------------------------------------------------------

def source_for(profile: Any, name: str) -> Any:
    """The profile's :class:`~srllm.profiles.DataSource` for ``name``, after any environment override.

    ``SRLLM_DATA_CMD`` / ``SRLLM_DATA_TOXIGEN`` name a local copy (file, saved dataset, fetched
    copy or Hub-layout folder) that replaces the profile's source, keeping its split and strata.
    """
    import dataclasses

    if name not in DATASET_NAMES:
        raise SrllmError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    src = getattr(profile.data, name)
    env = os.environ.get(ENV_OVERRIDE[name], "").strip()
    if env:
        src = dataclasses.replace(src, kind="local", path=env)
    return src


def _slug_id(hub_id: str) -> str:
    return hub_id.replace("/", "__")


def copies_root() -> Path:
    """``<cache>/data``: where :func:`fetch` keeps Hub datasets."""

    return cache_dir() / "data"


def fetched_copies(hub_id: str, config: str | None = None) -> list[dict[str, Any]]:
    """Fetched copies of ``hub_id``/``config`` in the cache, newest first (each its ``source.json`` + ``dir``)."""
    base = copies_root() / _slug_id(hub_id) / (config or "default")
    out = []
    if base.is_dir():
        for d in base.iterdir():
            meta = d / SOURCE_FILE
            if meta.is_file() and (d / "dataset").is_dir():
                try:
                    info = json.loads(meta.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError):
                    continue
                info["dir"] = d
                out.append(info)
    return sorted(out, key=lambda i: i.get("fetched_at", ""), reverse=True)


def find_copy(src: Any) -> dict[str, Any] | None:
    """The fetched copy a Hub source reads: the pinned revision's (by commit or by the name it was
    fetched under), else the newest."""
    copies = fetched_copies(src.hub_id, src.config)
    if src.revision:
        copies = [c for c in copies if src.revision in (c.get("revision"), c.get("requested_revision"))
                  or (len(src.revision) >= 7 and str(c.get("revision", "")).startswith(src.revision))]
    return copies[0] if copies else None


# --- why the Hub failed, and the message ---------------------------------------------------------

def _logged_in() -> bool:
    try:
        from huggingface_hub import get_token

        return bool(get_token())
    except Exception:  # an old huggingface_hub or an unreadable token file: treat as not logged in
        return bool(os.environ.get("HF_TOKEN"))


def hub_failure_reason(exc: BaseException | None, logged_in: bool) -> str:
    """Why a Hub dataset could not be read, in words (``exc`` None: the Hub is unreachable)."""
    if exc is None:
        return "offline: the Hugging Face Hub is not reachable from this machine"
    names = {c.__name__ for c in type(exc).__mro__}
    text = f"{type(exc).__name__}: {exc}".lower()
    if "GatedRepoError" in names or "gated" in text:
        if not logged_in:
            return "not logged in: the dataset is gated; accept its terms on its Hub page and log in (hf auth login)"
        return "terms not accepted: the dataset is gated and this account has not accepted its terms on its Hub page"
    if "OfflineModeIsEnabled" in names or "offline" in text or "ConnectionError" in names or "connect" in text:
        return "offline: the Hugging Face Hub is not reachable from this machine"
    if "401" in text or "403" in text:
        return ("not logged in: the Hub refused access (401/403); log in (hf auth login)" if not logged_in else
                "terms not accepted or no access: the Hub refused this account (401/403)")
    if "RepositoryNotFoundError" in names or "DatasetNotFoundError" in names or "RevisionNotFoundError" in names:
        return f"not found on the Hub (check the id and the revision): {str(exc).splitlines()[0] if str(exc) else ''}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"


def unavailable_message(profile_name: str, name: str, src: Any, reason: str) -> str:
    """The one message of issue 15 item 3: the dataset, why, and the two ways out."""
    what = src.hub_id + (f" (config {src.config})" if src.config else "") + (f" at revision {src.revision}"
                                                                              if src.revision else "")
    named = profile_name not in (None, "", "-", "?")
    fetch_cmd = f"srllm data fetch --profile {profile_name if named else 'paper'} --only {name}"
    whose = f" of profile {profile_name!r}" if named else ""
    return (f"cannot read dataset {name!r}{whose}: {what}: {reason}. "
            f"No bundled sample is used in its place. Two ways out: (1) on a machine with access run "
            f"`{fetch_cmd}` and copy the cache's data/ folder into this machine's cache ($SRLLM_CACHE/data); "
            f"or (2) point the profile at a local copy (a file, a saved `datasets` dataset or a folder in the "
            f"Hub's layout): set {ENV_OVERRIDE[name]}=PATH, or the profile fields data.{name}.kind=local and "
            f"data.{name}.path=PATH")


# --- fetching -----------------------------------------------------------------------------------

def _resolve_revision(hub_id: str, revision: str | None) -> str:
    from huggingface_hub import HfApi

    return HfApi().dataset_info(hub_id, revision=revision).sha


def fetch_source(src: Any, *, profile_name: str = "?", name: str = "?", force: bool = False) -> dict[str, Any]:
    """Download a Hub source once into the cache with its commit; returns the copy's ``source.json`` (+ ``dir``).

    An existing copy of the same commit is reused unless ``force``. Raises :class:`DataSourceError`
    with :func:`unavailable_message` when the Hub cannot be read.
    """

    if src.kind != "hub":
        raise SrllmError(f"dataset {name!r} is not a Hub source ({src.describe()}); nothing to fetch")
    if not force:
        have = find_copy(src)
        if have is not None:
            return have
    if not hub_reachable():
        raise DataSourceError(unavailable_message(profile_name, name, src, hub_failure_reason(None, _logged_in())))
    try:
        from datasets import load_dataset

        sha = _resolve_revision(src.hub_id, src.revision)
        dest = copies_root() / _slug_id(src.hub_id) / (src.config or "default") / sha
        if (dest / SOURCE_FILE).is_file() and (dest / "dataset").is_dir() and not force:
            info = json.loads((dest / SOURCE_FILE).read_text(encoding="utf-8"))
            info["dir"] = dest
            return info
        dsd = load_dataset(src.hub_id, src.config, revision=sha) if src.config else load_dataset(src.hub_id,
                                                                                                  revision=sha)
    except SrllmError:
        raise
    except Exception as exc:  # datasets/huggingface_hub raise many types (auth, gated, network, not found)
        raise DataSourceError(unavailable_message(profile_name, name, src, hub_failure_reason(exc, _logged_in()))
                              ) from None
    info = {"hub_id": src.hub_id, "config": src.config, "requested_revision": src.revision, "revision": sha,
            "splits": {k: len(v) for k, v in dsd.items()},
            "columns": {k: list(v.column_names) for k, v in dsd.items()},
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def save(tmp: Path) -> None:
        dsd.save_to_disk(str(tmp / "dataset"))
        atomic_write_text(tmp / SOURCE_FILE, json.dumps(info, indent=2))

    write_folder(dest, save)
    info["dir"] = dest
    return info


def fetch(profile: Any, names: tuple[str, ...] | None = None, force: bool = False) -> list[dict[str, Any]]:
    """:func:`fetch_source` for each Hub source of ``profile`` (others are listed as not fetched)."""
    out = []
    for name in names or DATASET_NAMES:
        src = source_for(profile, name)
        if src.kind != "hub":
            out.append({"dataset": name, "fetched": False, "why": src.describe()})
            continue
        info = fetch_source(src, profile_name=profile.name, name=name, force=force)
        out.append({"dataset": name, "fetched": True, **{k: v for k, v in info.items() if k != "dir"},
                    "copy": str(Path(info["dir"]).relative_to(copies_root().parent))})
    return out


# --- reading rows from a source -----------------------------------------------------------------

def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file())


def _pick_split(dsd: Any, split: str | None, where: str) -> tuple[Any, str | None]:
    """One split of a DatasetDict (``split``, or its only one); a plain Dataset as is."""
    if not hasattr(dsd, "keys"):
        return dsd, split
    names = list(dsd.keys())
    if split is None:
        if len(names) != 1:
            raise SrllmError(f"{where}: has splits {', '.join(names)}; name one in the profile's data source "
                             f"(field split)")
        split = names[0]
    if split not in names:
        raise SrllmError(f"{where}: has no split {split!r} (splits found: {', '.join(names)}); set the data "
                         f"source's split to one of them")
    return dsd[split], split


def _rows_from_folder(path: Path, split: str | None, config: str | None) -> tuple[list[dict[str, Any]], str | None,
                                                                                  str]:
    """Rows of a saved dataset, a fetched copy or a Hub-layout folder (parquet/csv/json files + README)."""
    if (path / SOURCE_FILE).is_file() and (path / "dataset").is_dir():
        path = path / "dataset"
    if _is_saved_dataset(path):
        from datasets import load_from_disk

        ds, split = _pick_split(load_from_disk(str(path)), split, path.name)
        return ds.to_list(), split, "saved dataset"
    from datasets import load_dataset

    try:
        dsd = load_dataset(str(path), config) if config else load_dataset(str(path))
    except Exception as exc:  # datasets raises many types for a folder it cannot read
        raise SrllmError(f"{path.name}: not a readable dataset folder (a saved `datasets` dataset, a copy made "
                         f"by `srllm data fetch`, or a folder in the Hub's layout): {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    ds, split = _pick_split(dsd, split, path.name)
    return ds.to_list(), split, "Hub-layout folder"


# ToxiGen's annotated config stores stereotyping as text ("uses positive stereotyping",
# "doesn't use positive stereotyping"); our schema holds 0/1.
def _stereotyping(value: Any) -> Any:
    if isinstance(value, str):
        v = value.strip().lower()
        if v.startswith("doesn't") or v.startswith("does not"):
            return 0
        if v.startswith("uses"):
            return 1
        return None
    if isinstance(value, (int, float)) and value not in (0, 1):
        return int(value >= 0.5)
    return value


TOXIGEN_COLUMNS = {"text": "text", "target_group": "target_group", "toxicity_human": "toxicity_human",
                   "toxicity_ai": "toxicity_ai", "stereotyping": "stereotyping", "intent": "intent", "id": "id"}


def toxigen_rows(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ToxiGen annotated rows in our :class:`~srllm.data.ToxigenRecord` fields (other columns dropped).

    ``stereotyping`` text or ratings become 0/1 (a documented departure: our schema is binary);
    group names are lower-cased with spaces as underscores.
    """
    rows = []
    for r in raw:
        row = {v: r.get(k) for k, v in TOXIGEN_COLUMNS.items() if k in r}
        if "stereotyping" in row:
            row["stereotyping"] = _stereotyping(row["stereotyping"])
        if isinstance(row.get("target_group"), str):
            row["target_group"] = row["target_group"].strip().lower().replace(" ", "_")
        rows.append(row)
    return rows


def _records(name: str, rows: list[dict[str, Any]], source: str, fmt: str | None) -> tuple[list[Any], LoadReport]:

    if name == "toxigen":
        return records_from_rows(toxigen_rows(rows), source=source, format="toxigen")
    return records_from_rows(rows, source=source, format=fmt)


def read_source(name: str, src: Any, profile_name: str) -> tuple[list[Any], LoadReport, dict[str, Any]]:
    """Records, report and where-from info of one source (no splitting)."""
    if src.kind == "sample":

        items, report = load_sample(_SAMPLE[name][0], with_report=True)
        return items, report, {"kind": "sample", "location": f"bundled sample {SAMPLES[_SAMPLE[name][0]][0]}",
                               "network": False}
    if src.kind == "local":
        path = Path(src.path).expanduser()
        if not path.exists():
            raise DataSourceError(f"dataset {name!r} of profile {profile_name!r}: local copy {path.name!r} "
                                  f"does not exist (data.{name}.path or {ENV_OVERRIDE[name]})")
        info: dict[str, Any] = {"kind": "local", "location": path.name, "network": False}
        if path.is_dir():
            meta = path / SOURCE_FILE
            if meta.is_file():
                fetched = json.loads(meta.read_text(encoding="utf-8"))
                info.update(location=fetched.get("hub_id", path.name), revision=fetched.get("revision"),
                            config=fetched.get("config"))
            rows, split, how = _rows_from_folder(path, src.split, src.config)
            items, report = _records(name, rows, f"{info['location']}[{split}]" if split else info["location"],
                                     src.format)
            info.update(split_read=split, how=how)
            return items, report, info

        if name == "toxigen":

            report = LoadReport(source=path.name, format="toxigen")
            _, raw = read_rows(path, report)
            items, report = _records(name, [r for _, r in raw], path.name, "toxigen")
        else:
            items, report = load_records(path, format=src.format or None)  # job pairs become records too
        return items, report, info
    # Hub: the fetched copy, else fetch now (network), else stop with the message.
    copy = find_copy(src)
    network = False
    if copy is None:
        copy = fetch_source(src, profile_name=profile_name, name=name)
        network = True
    rows, split, _ = _rows_from_folder(Path(copy["dir"]), src.split, src.config)
    where = f"hf://{src.hub_id}" + (f"/{src.config}" if src.config else "")
    items, report = _records(name, rows, f"{where}[{split}]", src.format)
    return items, report, {"kind": "hub", "location": src.hub_id, "config": src.config, "split_read": split,
                           "revision": copy.get("revision"), "fetched_at": copy.get("fetched_at"),
                           "network": network}


def load_folder(path: str | os.PathLike, split: str | None = None, format: str | None = None
                ) -> tuple[list[Any], LoadReport, dict[str, Any]]:
    """Records of a dataset folder (a copy made by ``srllm data fetch``, a saved ``datasets`` dataset, or a
    Hub-layout folder), for ``srllm data validate``: CMD or ToxiGen by the columns (or ``format``)."""

    path = Path(path)
    rows, split, how = _rows_from_folder(path, split, None)
    fmt = format or detect_format(rows[0].keys() if rows else [])
    name = "toxigen" if fmt == "toxigen" else "cmd"
    source = f"{path.name}[{split}]" if split else path.name
    items, report = _records(name, rows, source, None if fmt == "cmd" else fmt)
    info = {"how": how, "split_read": split}
    meta = path / SOURCE_FILE
    if meta.is_file():
        fetched = json.loads(meta.read_text(encoding="utf-8"))
        info.update(hub_id=fetched.get("hub_id"), revision=fetched.get("revision"), splits=fetched.get("splits"))
    return items, report, info


_MEMO: dict[Any, LoadedData] = {}


def _memo_key(name: str, src: Any, seed: int) -> Any:
    stamp = None
    if src.kind == "local":
        p = Path(src.path).expanduser()
        stamp = p.stat().st_mtime_ns if p.exists() else None
    if src.kind == "hub":
        c = find_copy(src)
        stamp = c.get("revision") if c else None
    return (name, src, seed, stamp)


def load_dataset_for(profile: Any, name: str = "cmd") -> LoadedData:
    """Dataset ``name`` as ``profile`` says to read it: records, load report, CMD splits, plain info.

    CMD records are split with :func:`srllm.data.split_records` (Table 1's proportions, the source's
    strata, the profile's seed); the splits are full (row limits apply in :func:`profile_splits`).
    Memoised per process on the source, the seed and the copy's revision or file time.
    """

    src = source_for(profile, name)
    key = _memo_key(name, src, profile.seed)
    if key in _MEMO:
        m = _MEMO[key]
        return LoadedData(m.name, list(m.records), m.report, {k: list(v) for k, v in m.splits.items()}, dict(m.info))
    items, report, info = read_source(name, src, profile.name)
    if not items:
        raise DataSourceError(f"dataset {name!r} of profile {profile.name!r}: {report.source} has no usable rows")
    splits: dict[str, list[Any]] = {}
    info.update(dataset=name, rows_read=report.rows_read, kept=report.kept, excluded=report.excluded)
    if name == "cmd":
        splits = split_records(items, seed=profile.seed, stratify=tuple(src.stratify))
        info.update(with_rewrite=sum(1 for r in items if r.safe_variation),
                    splits={k: len(v) for k, v in splits.items()}, stratify=list(src.stratify), seed=profile.seed)
    loaded = LoadedData(name, items, report, splits, info)
    _MEMO[key] = loaded
    return LoadedData(name, list(items), report, {k: list(v) for k, v in splits.items()}, dict(info))


def profile_splits(profile: Any, name: str = "cmd") -> dict[str, list[Any]]:
    """The CMD train/dev/test splits under ``profile``: its source, seed and row limits.

    The replacement for ``split_for_profile(load_sample("cmd"), profile)`` that every stage uses.
    """

    parts = load_dataset_for(profile, name).splits
    d = profile.data
    return {"train": limit(parts["train"], d.max_train_rows), "dev": limit(parts["dev"], d.max_eval_rows),
            "test": limit(parts["test"], d.max_test_rows)}


def ensure_sources(profile: Any) -> list[dict[str, Any]]:
    """Before a build: make sure every dataset the profile reads is here, fetching Hub data once if needed.

    Samples and local copies are only checked to exist; a Hub source without a fetched copy is
    fetched now when the Hub is reachable, so the build fails at once, with the one message of
    :func:`unavailable_message` naming the dataset, instead of in the middle of a notebook.
    """
    out = []
    for name in DATASET_NAMES:
        src = source_for(profile, name)
        if src.kind == "local" and not Path(src.path).expanduser().exists():
            raise DataSourceError(f"dataset {name!r} of profile {profile.name!r}: local copy "
                                  f"{Path(src.path).name!r} does not exist (data.{name}.path or {ENV_OVERRIDE[name]})")
        if src.kind == "hub":
            copy = find_copy(src) or fetch_source(src, profile_name=profile.name, name=name)
            out.append({"dataset": name, "revision": copy.get("revision")})
        else:
            out.append({"dataset": name, "revision": None})
    return out


def describe_sources(profile: Any) -> list[dict[str, Any]]:
    """Offline: each dataset's source, whether a fetched copy is present and whether reading it needs the network."""
    out = []
    for name in DATASET_NAMES:
        src = source_for(profile, name)
        row: dict[str, Any] = {"dataset": name, "kind": src.kind, "source": src.describe(), "network": False,
                               "copy": None}
        if src.kind == "hub":
            c = find_copy(src)
            row["copy"] = None if c is None else {"revision": c.get("revision"), "splits": c.get("splits"),
                                                  "fetched_at": c.get("fetched_at")}
            row["network"] = c is None
        out.append(row)
    return out


__all__ = ["DATASET_NAMES", "ENV_OVERRIDE", "DataSourceError", "LoadedData", "copies_root", "describe_sources",
           "ensure_sources",
           "fetch", "fetch_source", "fetched_copies", "find_copy", "hub_failure_reason", "load_dataset_for", "load_folder",
           "profile_splits", "source_for", "toxigen_rows", "unavailable_message"]
