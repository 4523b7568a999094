#!/usr/bin/env bash
# Installs the Debian packages strata needs to build, test and benchmark. Idempotent: when every
# package is present it only checks (well under a second) and installs nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  liburing-dev libhwloc-dev libnuma-dev libdnnl-dev ocl-icd-opencl-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs python3 python3-jinja2 python3-numpy
)
# ocl-icd-opencl-dev: oneDNN's CMake package config requires OpenCL, which libdnnl-dev only
# recommends (and --no-install-recommends skips).

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Debian ships npm as its own package; other nodejs builds (e.g. NodeSource's) bundle it, and
# asking apt for Debian's npm next to those would conflict.
if ! command -v npm >/dev/null; then missing+=(npm); fi

install_npm_test_client() {
  # The server tests drive strata with the official `openai` npm client (versions pinned by
  # package-lock.json); npm ci runs again only when the lock file is newer than the installed tree.
  local dir
  dir="$(dirname "$0")/../tests/server/npm"
  if [[ ! -d "$dir/node_modules/openai" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "setup: installing the openai npm client for the server tests"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  install_npm_test_client
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm_test_client
