"""Where an NLLB model comes from, and what the languages are called inside it.

`resolve_model(name)` turns what the user gave into a local CTranslate2 folder:

* a local CTranslate2 folder (``model.bin``, the vocabulary, ``sentencepiece.bpe.model``): used as it is;
* a local Hugging Face folder (``config.json`` and weights): converted once into the cache;
* a pinned Hub id (`PINNED`; the default, an int8 CTranslate2 conversion of ``facebook/nllb-200-distilled-600M``):
  its files are fetched at the pinned revision with huggingface_hub (its cache, token and endpoint), checked
  against their pinned sizes and SHA-256, and linked into one folder of the cache. No torch, no conversion;
* a Hub id of another already converted CTranslate2 repository (it holds a ``model.bin``): fetched as it is;
* any other Hub id (``facebook/nllb-200-distilled-600M``, ``-1.3B``, …): converted once with CTranslate2's
  ``TransformersConverter`` (extra ``[convert]``) and cached under ``$LLAVA_TRANSLATE_CACHE``, else
  ``$XDG_CACHE_HOME/llava-translate``, else ``~/.cache/llava-translate``.

`model_identity(name)` is the cheap, machine-independent name of a model for memory keys: the Hub id itself (with the
pinned revision for a pinned model), or a hash of a local folder's configuration, vocabulary and weight file edges
(never its absolute path).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from translate.errors import ConfigError, ModelNotFoundError



@dataclass(frozen=True)
class PinnedFile:
    """One file of a pinned model: its size and SHA-256, and where it comes from when not from the model's own
    repository (a converted repository may lack the SentencePiece model, which the original holds)."""

    name: str
    size: int
    sha256: str
    repo: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class PinnedModel:
    """A converted CTranslate2 model on the Hub, fixed to one commit, with every file it needs checked."""

    repo: str
    revision: str
    converted_from: str
    files: tuple[PinnedFile, ...]

    @property
    def folder_name(self) -> str:
        return f"{self.repo.replace('/', '--')}@{self.revision}"


# The default: an int8 CTranslate2 conversion of facebook/nllb-200-distilled-600M, so that a first run needs neither
# torch nor transformers (a 620 MB download instead of the 1.5 GB conversion toolchain). Revision, sizes and SHA-256
# as pinned and checked by another public project that downloads this model; the repository holds the SentencePiece
# model itself, so nothing comes from the original.
NLLB_600M_INT8 = PinnedModel(
    repo="osa911/nllb-200-distilled-600M-ct2-int8",
    revision="46858753dbaf8eb5e21bb6f0037c3b90851e090a",
    converted_from="facebook/nllb-200-distilled-600M",
    files=(
        PinnedFile("config.json", 223, "8f6496adfc930cbfecbe8281112197705c488fab47d34b4829b06d7f478909af"),
        PinnedFile("sentencepiece.bpe.model", 4_852_054,
                   "14bb8dfb35c0ffdea7bc01e56cea38b9e3d5efcdcb9c251d6b40538e1aab555a"),
        PinnedFile("shared_vocabulary.json", 5_921_176,
                   "af53bfd0e6f726209e7325e45b87ab3b14e5856f7d42d7b9be91de3287c45267"),
        PinnedFile("model.bin", 619_704_329, "ca3362e6e81906c0cf9c33bd6917674222c71d69617d0afb18507ce0b6c2e2e8"),
    ),
)
PINNED: dict[str, PinnedModel] = {NLLB_600M_INT8.repo: NLLB_600M_INT8}
DEFAULT_MODEL = NLLB_600M_INT8.repo
PIN_MARKER = ".llava-translate-pin.json"  # written last into an assembled folder: its files were checked
SPM_NAMES = ("sentencepiece.bpe.model", "spm.model", "sentencepiece.model", "source.spm")
VOCAB_NAMES = ("shared_vocabulary.json", "shared_vocabulary.txt", "source_vocabulary.json",
               "source_vocabulary.txt", "target_vocabulary.json", "target_vocabulary.txt")
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
# Weights are stored at this precision when converting; CTranslate2 converts again on load to the compute type
# (int8 on a CPU, int8_float16 on a GPU), and float16 halves the download-sized float32 checkpoint on disk.
CONVERT_QUANTIZATION = "float16"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")

# ISO 639-1 (and a few regional tags) → FLORES-200 codes used by NLLB-200.
ISO_TO_NLLB: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng", "az": "azj_Latn", "be": "bel_Cyrl",
    "bg": "bul_Cyrl", "bn": "ben_Beng", "bo": "bod_Tibt", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn",
    "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "eo": "epo_Latn",
    "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fil": "tgl_Latn",
    "fr": "fra_Latn", "ga": "gle_Latn", "gd": "gla_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "id": "ind_Latn", "ig": "ibo_Latn", "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "jv": "jav_Latn",
    "ka": "kat_Geor", "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "ku": "kmr_Latn",
    "ky": "kir_Cyrl", "lb": "ltz_Latn", "lo": "lao_Laoo", "lt": "lit_Latn", "lv": "lvs_Latn", "mg": "plt_Latn",
    "mi": "mri_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn",
    "mt": "mlt_Latn", "my": "mya_Mymr", "nb": "nob_Latn", "ne": "npi_Deva", "nl": "nld_Latn", "nn": "nno_Latn",
    "no": "nob_Latn", "ny": "nya_Latn", "or": "ory_Orya", "pa": "pan_Guru", "pl": "pol_Latn", "ps": "pbt_Arab",
    "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "rw": "kin_Latn", "sd": "snd_Arab", "si": "sin_Sinh",
    "sk": "slk_Latn", "sl": "slv_Latn", "sm": "smo_Latn", "sn": "sna_Latn", "so": "som_Latn", "sq": "als_Latn",
    "sr": "srp_Cyrl", "su": "sun_Latn", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu",
    "tg": "tgk_Cyrl", "th": "tha_Thai", "tk": "tuk_Latn", "tl": "tgl_Latn", "tr": "tur_Latn", "ug": "uig_Arab",
    "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn", "xh": "xho_Latn", "yi": "ydd_Hebr",
    "yo": "yor_Latn", "yue": "yue_Hant", "zh": "zho_Hans", "zu": "zul_Latn",
    # Regional and script tags where the script differs from the language's default.
    "zh-cn": "zho_Hans", "zh-sg": "zho_Hans", "zh-hans": "zho_Hans", "zh-tw": "zho_Hant", "zh-hk": "zho_Hant",
    "zh-mo": "zho_Hant", "zh-hant": "zho_Hant", "pt-br": "por_Latn", "pt-pt": "por_Latn",
}


def nllb_code(lang: str) -> str:
    """The NLLB code for an ISO code (``ko`` → ``kor_Hang``); an NLLB code passes through. ConfigError if unknown."""
    if NLLB_CODE.match(lang):
        return lang
    key = lang.strip().lower().replace("_", "-")
    if key in ISO_TO_NLLB:
        return ISO_TO_NLLB[key]
    primary = key.split("-", 1)[0]
    if primary in ISO_TO_NLLB:
        return ISO_TO_NLLB[primary]
    raise ConfigError(
        f"language {lang!r} has no NLLB code in the built-in table; pass the NLLB (FLORES-200) code itself, "
        f"e.g. --target kor_Hang"
    )


def cache_root() -> Path:
    explicit = os.environ.get("LLAVA_TRANSLATE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llava-translate"


def is_ct2_folder(path: Path) -> bool:
    return (path / "model.bin").is_file()


def is_hf_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / n).is_file() for n in HF_WEIGHTS)


def find_spm(path: Path) -> Path | None:
    for name in SPM_NAMES:
        if (path / name).is_file():
            return path / name
    found = sorted(path.glob("*.model"))
    return found[0] if found else None


def looks_local(name: str) -> bool:
    """Whether `name` is meant as a folder (it exists, or it is spelled like a path rather than ``owner/name``)."""
    if Path(name).expanduser().exists():
        return True
    return name.startswith(("/", "./", "../", "~", ".\\")) or not _HUB_ID.match(name)


def model_identity(name: str, revision: str | None = None) -> str:
    """A short name for the model that is the same on every machine, for memory keys. Reads at most a few MB."""
    path = Path(name).expanduser()
    if path.is_dir():
        return "local:" + _folder_digest(path)
    pin = pinned(name, revision)
    if pin is not None:
        return f"{name}@{pin.revision}"
    return name + (f"@{revision}" if revision else "")


def pinned(name: str, revision: str | None = None) -> PinnedModel | None:
    """The pin for a Hub id, unless another revision than the pinned one is asked for."""
    pin = PINNED.get(name)
    return pin if pin is not None and revision in (None, pin.revision) else None


def _folder_digest(path: Path) -> str:
    """Hash of the small files that define a model (config, vocabulary, tokenizer) and the size and edges of its
    weights: two copies of one model agree wherever they live, two fine-tunes of one base differ."""
    h = hashlib.sha256()
    small = ["config.json", *VOCAB_NAMES, *SPM_NAMES, "tokenizer_config.json", "special_tokens_map.json"]
    for name in small:
        p = path / name
        if p.is_file():
            h.update(name.encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    for name in ("model.bin", *HF_WEIGHTS):
        p = path / name
        if p.is_file():
            size = p.stat().st_size
            h.update(f"{name}\0{size}\0".encode())
            with open(p, "rb") as fh:
                h.update(fh.read(1 << 20))
                if size > 2 << 20:
                    fh.seek(size - (1 << 20))
                    h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def resolve_model(name: str, revision: str | None = None, local_files_only: bool = False) -> Path:
    """A local CTranslate2 folder for `name`, fetching or converting it on first use. Raises ModelNotFoundError."""
    path = Path(name).expanduser()
    if path.is_dir():
        if is_ct2_folder(path):
            _check_ct2(path, name)
            return path
        if is_hf_folder(path):
            target = cache_root() / "nllb" / f"local-{_folder_digest(path)}"
            return _convert_once(str(path), target, name)
        raise ModelNotFoundError(
            f"model folder {name} holds neither a CTranslate2 model (model.bin) nor a Hugging Face model "
            f"(config.json and weights)"
        )
    if looks_local(name):
        raise ModelNotFoundError(f"model folder {name} does not exist. {_local_hint(name)}")
    pin = pinned(name, revision)
    if pin is not None:
        return _from_pin(pin, local_files_only)
    slug = name.replace("/", "--") + (f"@{revision}" if revision else "")
    target = cache_root() / "nllb" / slug
    if is_ct2_folder(target):
        return target
    return _from_hub(name, revision, target, local_files_only)


def _from_hub(repo: str, revision: str | None, target: Path, local_files_only: bool) -> Path:
    hub = _import_hub(repo, target)
    # Whatever the Hugging Face cache already holds comes first: no network needed.
    try:
        snapshot = Path(hub.snapshot_download(repo, revision=revision, local_files_only=True))
        if is_ct2_folder(snapshot):
            _check_ct2(snapshot, repo)
            return snapshot
        if is_hf_folder(snapshot):
            return _convert_once(str(snapshot), target, repo)
    except Exception:  # noqa: BLE001 - nothing usable in the local Hub cache; go online
        pass
    if local_files_only:
        raise ModelNotFoundError(f"model {repo!r} is not in the cache ({target}) and downloads are off "
                                 f"(local_files_only). {_local_hint(repo)}")
    if _hub_offline(hub):
        raise ModelNotFoundError(f"model {repo!r} is not in the cache ({target}) and HF_HUB_OFFLINE is set. "
                                 f"{_local_hint(repo)}")
    unreachable = _unreachable(getattr(hub.constants, "ENDPOINT", "https://huggingface.co"))
    if unreachable:
        raise ModelNotFoundError(
            f"model {repo!r} is not in the cache ({target}) and the Hugging Face Hub cannot be reached "
            f"({unreachable}). {_local_hint(repo)}"
        )
    try:
        files = set(hub.list_repo_files(repo, revision=revision))
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, proxy, auth: all end the same way
        raise ModelNotFoundError(
            f"model {repo!r} is not in the cache ({target}) and could not be fetched from the Hugging Face Hub "
            f"({type(exc).__name__}: {_first_line(exc)}). {_local_hint(repo)}"
        ) from None
    if "model.bin" in files:
        try:
            snapshot = Path(hub.snapshot_download(repo, revision=revision))
        except Exception as exc:  # noqa: BLE001
            raise ModelNotFoundError(f"model {repo!r}: download failed ({type(exc).__name__}: "
                                     f"{_first_line(exc)}). {_local_hint(repo)}") from None
        _check_ct2(snapshot, repo)
        return snapshot
    return _convert_once(repo, target, repo, revision)


# -- pinned models ----------------------------------------------------------------------------------------------------

def _from_pin(pin: PinnedModel, local_files_only: bool) -> Path:
    """The pinned model's folder in the cache, assembled once from checked files (several processes: once)."""
    target = cache_root() / "nllb" / pin.folder_name
    if _pin_ready(target, pin):
        return target
    hub = _import_hub(pin.repo, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.with_name(target.name + ".lock")):
        if _pin_ready(target, pin):
            return target
        files = _fetch_pinned_files(hub, pin, local_files_only, target)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
        try:
            for f, path in files:
                _place(path, tmp / f.name)
            (tmp / PIN_MARKER).write_text(json.dumps(_pin_record(pin), indent=1) + "\n", encoding="utf-8")
            _check_ct2(tmp, pin.repo)
            shutil.rmtree(target, ignore_errors=True)  # a folder whose files no longer check out
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _pin_record(pin: PinnedModel) -> dict:
    return {"repo": pin.repo, "revision": pin.revision,
            "files": {f.name: {"size": f.size, "sha256": f.sha256, "repo": f.repo or pin.repo,
                               "revision": f.revision or pin.revision} for f in pin.files}}


def _pin_ready(target: Path, pin: PinnedModel) -> bool:
    """An assembled folder for exactly this pin, whose files are all there at their pinned sizes (the hashes were
    checked when it was assembled; sizes catch a truncated or replaced file without rereading 600 MB)."""
    try:
        if json.loads((target / PIN_MARKER).read_text(encoding="utf-8")) != _pin_record(pin):
            return False
        return all((target / f.name).stat().st_size == f.size for f in pin.files)
    except (OSError, ValueError):
        return False


def _import_hub(name: str, target: Path):
    try:
        import huggingface_hub as hub
        import huggingface_hub.constants  # noqa: F401 - submodules load lazily, and `hub.constants` is read
    except ImportError:
        raise ModelNotFoundError(
            f"model {name!r} is not in the cache ({target}) and huggingface_hub is not installed to fetch it "
            f"(pip install 'llava-translate[nllb]'). {_local_hint(name)}"
        ) from None
    return hub


def _hub_offline(hub) -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return flag or bool(getattr(hub.constants, "HF_HUB_OFFLINE", False))


def _fetch_pinned_files(hub, pin: PinnedModel, local_files_only: bool, target: Path) -> list[tuple[PinnedFile, Path]]:
    """Every pinned file from the Hugging Face cache, downloading what it lacks, each checked against its pin."""
    found: list[tuple[PinnedFile, Path]] = []
    missing: list[PinnedFile] = []
    for f in pin.files:
        try:
            found.append((f, Path(hub.hf_hub_download(f.repo or pin.repo, f.name, revision=f.revision or pin.revision,
                                                      local_files_only=True))))
        except Exception:  # noqa: BLE001 - not in the local cache (or the cache is unreadable): fetch it below
            missing.append(f)
    if missing:
        names = ", ".join(f.name for f in missing)
        why = ("downloads are off (local_files_only)" if local_files_only else
               "HF_HUB_OFFLINE is set" if _hub_offline(hub) else
               _unreachable(getattr(hub.constants, "ENDPOINT", "https://huggingface.co")))
        if why:
            raise ModelNotFoundError(f"model {pin.repo!r} is not in the cache ({target}): {names} missing and {why}. "
                                     f"{_local_hint(pin.repo)}")
        for f in missing:
            repo, revision = f.repo or pin.repo, f.revision or pin.revision
            try:
                found.append((f, Path(hub.hf_hub_download(repo, f.name, revision=revision))))
            except Exception as exc:  # noqa: BLE001 - offline, unknown repo or revision, proxy, auth: one message
                raise ModelNotFoundError(
                    f"model {pin.repo!r}: {f.name} could not be fetched from {repo}@{revision} "
                    f"({type(exc).__name__}: {_first_line(exc)}). {_local_hint(pin.repo)}") from None
    for f, path in found:
        _verify(path, f, pin)
    return found


def _verify(path: Path, f: PinnedFile, pin: PinnedModel) -> None:
    size = path.stat().st_size
    digest = _sha256(path) if size == f.size else None
    if size != f.size or digest != f.sha256:
        got = f"{size:,} bytes" + (f", SHA-256 {digest}" if digest else "")
        raise ModelNotFoundError(
            f"model {pin.repo!r}: {f.name} from {f.repo or pin.repo}@{f.revision or pin.revision} is not the pinned "
            f"file ({got}; pinned: {f.size:,} bytes, SHA-256 {f.sha256}). The download is damaged or the "
            f"repository was rewritten: delete {path} from the Hugging Face cache and run again, or pass --model "
            "with a folder you trust"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _place(source: Path, link: Path) -> None:
    """`link` → the checked file in the Hugging Face cache (no second copy of 600 MB); a copy where links fail."""
    try:
        os.symlink(source.resolve(), link)
    except OSError:
        shutil.copy2(source, link)


def _convert_once(source: str, target: Path, name: str, revision: str | None = None) -> Path:
    """Convert a Transformers NLLB/M2M100 model into `target`, once, even with several processes at it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.with_name(target.name + ".lock")):
        if is_ct2_folder(target):
            return target
        try:
            from ctranslate2.converters import TransformersConverter
            import transformers  # noqa: F401
        except ImportError as exc:
            raise ModelNotFoundError(
                f"model {name!r} must be converted to CTranslate2 once, which needs transformers and torch "
                f"({exc.name or exc} is missing): pip install 'llava-translate[convert]'. {_local_hint(name)}"
            ) from None
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent))
        try:
            converter = TransformersConverter(source, copy_files=_copy_files(source, revision),
                                              revision=revision, low_cpu_mem_usage=True)
            converter.convert(str(tmp / "model"), quantization=CONVERT_QUANTIZATION, force=True)
            _check_ct2(tmp / "model", name)
            os.replace(tmp / "model", target)
        except ModelNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ModelNotFoundError(
                f"model {name!r} could not be converted to CTranslate2 ({type(exc).__name__}: {_first_line(exc)}). "
                f"{_local_hint(name)}"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _copy_files(source: str, revision: str | None) -> list[str]:
    """The SentencePiece model travels with the converted weights: tokenisation needs nothing else."""
    local = Path(source)
    if local.is_dir():
        spm = find_spm(local)
        return [spm.name] if spm else []
    return ["sentencepiece.bpe.model"]


def _check_ct2(path: Path, name: str) -> None:
    if find_spm(path) is None:
        raise ModelNotFoundError(
            f"model {name}: the CTranslate2 folder {path} has no SentencePiece model (sentencepiece.bpe.model); "
            f"copy it from the original Hugging Face repository (the converter's --copy_files "
            f"sentencepiece.bpe.model does this)"
        )
    if not any((path / v).is_file() for v in VOCAB_NAMES):
        raise ModelNotFoundError(f"model {name}: the CTranslate2 folder {path} has no vocabulary file")


def read_vocabulary(path: Path) -> list[str]:
    """The (source or shared) vocabulary of a CTranslate2 folder."""
    for name in ("shared_vocabulary", "source_vocabulary"):
        js, txt = path / f"{name}.json", path / f"{name}.txt"
        if js.is_file():
            return json.loads(js.read_text(encoding="utf-8"))
        if txt.is_file():
            return txt.read_text(encoding="utf-8").splitlines()
    return []


def _local_hint(name: str) -> str:
    original = PINNED[name].converted_from if name in PINNED else name if _HUB_ID.match(name) else \
        NLLB_600M_INT8.converted_from
    return (
        "To work offline, give a local CTranslate2 folder instead: --model /path/to/folder (made elsewhere with "
        f"`ct2-transformers-converter --model {original} --output_dir folder "
        "--copy_files sentencepiece.bpe.model --quantization float16`), or copy a converted folder into "
        f"{cache_root() / 'nllb'}."
    )


def _unreachable(endpoint: str, timeout: float = 5.0) -> str | None:
    """Why the Hub endpoint cannot be reached, or None. A direct connection test, so an offline machine fails in
    a second rather than after the Hub client's retries; skipped behind a proxy, where only the client knows."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                       "all_proxy")):
        return None
    parsed = urlsplit(endpoint)
    host = parsed.hostname
    if not host:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
