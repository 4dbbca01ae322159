"""Where an NLLB model comes from, and what the languages are called inside it.

`resolve_model(name)` turns what the user gave into a local CTranslate2 folder:

* a local CTranslate2 folder (``model.bin``, the vocabulary, ``sentencepiece.bpe.model``): used as it is;
* a local Hugging Face folder (``config.json`` and weights): converted once into the cache;
* a Hub id of an already converted CTranslate2 repository (it holds a ``model.bin``): fetched with huggingface_hub;
* any other Hub id (default ``facebook/nllb-200-distilled-600M``): converted once with CTranslate2's
  ``TransformersConverter`` (extra ``[convert]``) and cached under ``$LLAVA_TRANSLATE_CACHE``, else
  ``$XDG_CACHE_HOME/llava-translate``, else ``~/.cache/llava-translate``.

`model_identity(name)` is the cheap, machine-independent name of a model for memory keys: the Hub id itself, or a
hash of a local folder's configuration, vocabulary and weight file edges (never its absolute path).
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
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from translate.errors import ConfigError, ModelNotFoundError

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
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
    return name + (f"@{revision}" if revision else "")


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
    slug = name.replace("/", "--") + (f"@{revision}" if revision else "")
    target = cache_root() / "nllb" / slug
    if is_ct2_folder(target):
        return target
    return _from_hub(name, revision, target, local_files_only)


def _from_hub(repo: str, revision: str | None, target: Path, local_files_only: bool) -> Path:
    try:
        import huggingface_hub as hub
    except ImportError:
        raise ModelNotFoundError(
            f"model {repo!r} is not in the cache ({target}) and huggingface_hub is not installed to fetch it "
            f"(pip install 'llava-translate[nllb]'). {_local_hint(repo)}"
        ) from None
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
    if getattr(hub.constants, "HF_HUB_OFFLINE", False):
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
    return (
        "To work offline, give a local CTranslate2 folder instead: --model /path/to/folder (made elsewhere with "
        f"`ct2-transformers-converter --model {name if _HUB_ID.match(name) else DEFAULT_MODEL} --output_dir folder "
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
