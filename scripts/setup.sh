#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for nodemedic's local mode and tests: Debian's containerd
# (the real daemon the rehearsal and the integration tests drive), util-linux (prlimit), and the npm
# packages from the lockfile. `--browser` also installs Debian's chromium for the browser test.
# `--lab` also installs systemd-container and mmdebstrap and builds (or reuses, from its cache) the
# node lab's three images: bookworm, trixie and sid nodes with systemd and containerd (scripts/lab.sh).
# Idempotent: it installs only what is missing. Needs root (apt, and containerd itself).
set -euo pipefail
cd "$(dirname "$0")/.."

with_browser=false
with_lab=false
for arg in "$@"; do
  case $arg in
    --browser) with_browser=true ;;
    --lab) with_lab=true ;;
    *) echo "setup: unknown argument '$arg' (expected --browser or --lab)" >&2; exit 2 ;;
  esac
done

if ((EUID != 0)); then
  echo "setup: run as root (sudo bash scripts/setup.sh): it installs Debian packages, and containerd needs root" >&2
  exit 2
fi

need=()
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v ctr >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)
command -v setsid >/dev/null 2>&1 || need+=(util-linux)
if $with_browser; then command -v chromium >/dev/null 2>&1 || need+=(chromium); fi
if $with_lab; then
  command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
  command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
  command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
fi
if ((${#need[@]})); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "setup: $(containerd --version)"

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js 20 or newer is required (node not found)" >&2
  exit 2
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if ((major < 20)); then
  echo "setup: Node.js 20 or newer is required (found $(node --version))" >&2
  exit 2
fi
# npm ci when node_modules is missing or older than the lockfile.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci (node $(node --version), npm $(npm --version))"
  npm ci --no-audit --no-fund
fi
if $with_lab; then
  # Builds only what the cache lacks (about a minute per image); the host's apt sources stay as they are.
  lab_start=$(date +%s)
  bash scripts/lab.sh build
  echo "setup: lab images ready in $(($(date +%s) - lab_start)) s"
fi
echo "setup: ready"
