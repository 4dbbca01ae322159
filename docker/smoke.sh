#!/usr/bin/env bash
# Build the CPU image and run a real job in it: the pseudo backend over data/samples/, then check what it wrote.
#
#   docker/smoke.sh                 # buildah (no Docker engine needed); needs python:3.11-slim locally or pullable
#   ENGINE=docker docker/smoke.sh   # the same with Docker
#
# With buildah on a machine without Docker Hub, make a local stand-in for python:3.11-slim first:
# ../shared/tools/container-base.sh (project machines), or `buildah pull python:3.11-slim` elsewhere.
# Environment: IMAGE (tag to build, default localhost/llava-translate:smoke), STORAGE_DRIVER (buildah, default vfs),
# KEEP=1 keeps the image afterwards. Prints the build and run times; exits non-zero on any failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${ENGINE:-buildah}
IMAGE=${IMAGE:-localhost/llava-translate:smoke}
work=$(mktemp -d)
ctr=""
B=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")

cleanup() {
    if [[ -n "$ctr" ]]; then "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
    if [[ -z "${KEEP:-}" ]]; then
        if [[ "$ENGINE" == buildah ]]; then "${B[@]}" rmi "$IMAGE" >/dev/null 2>&1 || true
        else docker rmi "$IMAGE" >/dev/null 2>&1 || true; fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
if [[ "$ENGINE" == buildah ]]; then
    ca=()
    # The host's CA bundle, so pip inside the build trusts what pip on this machine trusts (a TLS proxy included).
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
        ca=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
    fi
    "${B[@]}" bud --pull=never --isolation chroot "${ca[@]}" --ignorefile docker/Dockerfile.dockerignore \
        -f docker/Dockerfile -t "$IMAGE" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
else
    DOCKER_BUILDKIT=1 docker build -f docker/Dockerfile -t "$IMAGE" . >"$work/build.log" 2>&1 \
        || { tail -40 "$work/build.log"; exit 1; }
fi
t1=$(date +%s)

# The image runs as uid 1000: give it a world-writable copy of the samples.
mkdir -p "$work/data"
cp -r data/samples "$work/data/samples"
chmod -R a+rwX "$work/data"
job=(python -m translate run --src '/data/samples/*.json*' --backend pseudo --out /data/out --quiet)
if [[ "$ENGINE" == buildah ]]; then
    ctr=$("${B[@]}" from --pull=never "$IMAGE")
    "${B[@]}" run --isolation chroot -v "$work/data:/data" "$ctr" -- "${job[@]}"
    "${B[@]}" run --isolation chroot "$ctr" -- python -m translate --help >"$work/help.txt"
else
    docker run --rm -v "$work/data:/data" --entrypoint python "$IMAGE" "${job[@]:1}"
    docker run --rm "$IMAGE" --help >"$work/help.txt"
fi
t2=$(date +%s)

# Every sample has its four outputs; the counts add up; something was kept.
python3 - "$work/data" "$work/help.txt" <<'EOF'
import json, pathlib, sys
data, help_text = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text()
samples = sorted(p for p in (data / "samples").iterdir() if p.suffix in (".json", ".jsonl"))
assert samples, "no samples copied"
kept = 0
for src in samples:
    stem = f"ko_{src.stem}"
    out = data / "out"
    for suffix in (src.suffix, ".manifest.json", ".rejected.jsonl", ".qc.jsonl"):
        assert (out / f"{stem}{suffix}").is_file(), f"missing {stem}{suffix}"
    counts = json.loads((out / f"{stem}.manifest.json").read_text())["counts"]
    assert counts["records_in"] == counts["records_kept"] + counts["records_rejected"], (stem, counts)
    text = (out / f"{stem}{src.suffix}").read_text(encoding="utf-8")
    records = json.loads(text) if src.suffix == ".json" else [json.loads(l) for l in text.splitlines() if l.strip()]
    assert len(records) == counts["records_kept"], (stem, len(records), counts)
    kept += counts["records_kept"]
assert kept > 0, "nothing kept"
assert "export" in help_text and "run" in help_text, "commands missing from --help"
print(f"smoke: {len(samples)} files, {kept} records kept")
EOF
echo "smoke: ok (build $((t1 - t0)) s, run $((t2 - t1)) s, total $((t2 - t0)) s)"
