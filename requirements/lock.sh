#!/usr/bin/env bash
# `make lock`: re-resolve requirements/*.txt to the newest releases pyproject.toml allows.
# all.txt (every extra) is what `make setup` and CI install; images/<name>.txt hold one image's
# part of it, resolved under all.txt so every file pins the same versions. Hashes for every file.
set -euo pipefail
cd "$(dirname "$0")/.."
uv="$(dirname "${PY:-.venv/bin/python}")/uv"
# The lock is for the images' and machines' platform: CPython 3.11 on x86_64 Linux.
compile=("$uv" pip compile --quiet --generate-hashes --python-version 3.11
  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"
  -c requirements/constraints.in)
[ -d /opt/wheels ] && compile+=(--find-links /opt/wheels)

upgrade=(--upgrade); [ "${UPGRADE:-1}" = 0 ] && upgrade=()
"${compile[@]}" "${upgrade[@]}" --all-extras pyproject.toml requirements/lock.in -o requirements/all.txt
mkdir -p requirements/images
services=$(python3 -c 'import tomllib
print(" ".join(s.get("extra", s["name"]) for s in tomllib.load(open("services.toml", "rb"))["service"]))')
for image in $services gateway; do
  "${compile[@]}" -c requirements/all.txt --extra "$image" pyproject.toml \
    -o "requirements/images/$image.txt"
done
# Trainer images: the services' extras plus `train`; one file serves every trainer.
"${compile[@]}" -c requirements/all.txt --extra train $(printf -- '--extra %s ' $services) \
  pyproject.toml -o requirements/images/trainer.txt
echo "lock: $(grep -c '^[a-z0-9]' requirements/all.txt) packages in requirements/all.txt;" \
  "run 'make test' to see whether the upgrade is safe"
