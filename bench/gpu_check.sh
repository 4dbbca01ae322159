#!/usr/bin/env bash
# The GPU check, ready to run as is the first time a GPU is at hand (the device machine has no network).
#
# Here, once, fetch the wheels the device image lacks (Python 3.12 there; it has numpy, sentencepiece, rich, typer):
#   mkdir -p bench/.wheels && echo /bench/.wheels/ >> .git/info/exclude
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       -d bench/.wheels ctranslate2
#   pip download --no-deps --no-binary=:all: -d bench/.wheels langdetect
# Then run it there with bench/.wheels carried, e.g. device run: `bash bench/gpu_check.sh` carry ["bench/.wheels"].
#
# It builds the random-weight NLLB-600M-shaped model locally, measures raw CTranslate2 and the whole pipeline on
# LLaVA-shaped records (int8_float16, beam 2) and prints one table; about 5 minutes on one H100/H200.
set -euo pipefail
cd "$(dirname "$0")/.."
SITE=/tmp/gpu-check-site
mkdir -p "$SITE" "${OUT:-/tmp}"
python3 -m pip install --quiet --no-index --find-links bench/.wheels --target "$SITE" ctranslate2 langdetect
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
# ctranslate2's wheel is built against CUDA 12 and dlopens libcublas.so.12; the machine has CUDA 13's cuBLAS, which
# keeps the same API for what CTranslate2 calls. Point the old name at it.
if ! ldconfig -p | grep -q 'libcublas.so.12'; then
    CUBLAS=$(python3 -c "import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], 'lib'))" 2>/dev/null \
             || dirname "$(ldconfig -p | awk '/libcublas.so.13/{print $NF; exit}')")
    mkdir -p /tmp/cuda12-shim
    for lib in libcublas libcublasLt; do
        ln -sf "$(ls "$CUBLAS"/$lib.so.13* | head -1)" "/tmp/cuda12-shim/$lib.so.12"
    done
    export LD_LIBRARY_PATH="/tmp/cuda12-shim:$CUBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import ctranslate2; print('ctranslate2', ctranslate2.__version__, 'cuda devices:', ctranslate2.get_cuda_device_count())"
PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --device cuda --records "${RECORDS:-5000}" \
    --workers 0 8 --json "${OUT:-/tmp}/gpu_check.json" 2>&1 | tee "${OUT:-/tmp}/gpu_check.log"
