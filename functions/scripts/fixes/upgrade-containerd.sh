#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: upgrade-containerd (tier: disruptive).
# Upgrades containerd in place THROUGH THE PACKAGE MANAGER ONLY, to the version the operator pins in
# NODEMEDIC_PACKAGE_VERSION (required), then restarts it. It never downloads a tarball: on EKS AMIs
# containerd is an RPM pinned with `dnf versionlock`, and a binary in /usr/local/bin would not even
# replace /usr/bin/containerd. dnf/yum: versionlock delete, install, versionlock add. apt: unhold,
# install, hold. The lock is put back on failure. No downgrade: replace the node for that.
# Inputs: NODEMEDIC_PACKAGE_VERSION, NODEMEDIC_ADDRESS, NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=upgrade-containerd
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param VERSION NODEMEDIC_PACKAGE_VERSION '' '^$|^[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.~+-]{0,40}$'
param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: replace the node to go back"
[[ -n $VERSION ]] || refuse "NODEMEDIC_PACKAGE_VERSION is required: the operator pins the version to install"

installed() { # the upstream version of the containerd binary on PATH (1.7.27 from "... v1.7.27 ...")
  local v
  v=$(timeout 10 containerd --version 2>/dev/null | awk '{ print $3 }') || v=
  v=${v#v}
  printf '%s' "${v%%[-~+]*}"
}
want=${VERSION%%[-~+]*}
have=$(installed)
[[ -n $have ]] || fail "cannot read the installed version (containerd --version)"
if [[ $have == "$want" ]]; then
  result true false "containerd $have is installed already: nothing changed"
  exit 0
fi
lowest=$(printf '%s\n%s\n' "$have" "$want" | sort -V | head -n 1)
[[ $lowest == "$have" ]] || refuse "NODEMEDIC_PACKAGE_VERSION $VERSION is below the installed $have: no downgrade in place, replace the node"

if command -v dnf >/dev/null; then pm=dnf; elif command -v yum >/dev/null; then pm=yum
elif command -v apt-get >/dev/null; then pm=apt; else fail "no dnf, yum or apt-get here: upgrade by replacing the node"; fi
run() { # bounded package-manager step; its output goes to stderr (stdout ends with the result)
  say "$*"
  timeout 600 "$@" </dev/null >&2
}
case $pm in
  dnf | yum)
    # versionlock delete fails when nothing is locked: that is fine.
    run "$pm" -y versionlock delete containerd || say "no versionlock entry for containerd"
    undo() { run "$pm" -y versionlock add containerd; }
    run "$pm" -y install "containerd-$VERSION" || fail "$pm install containerd-$VERSION failed; the lock is back on the installed version"
    run "$pm" -y versionlock add containerd || fail "installed containerd-$VERSION but could not lock it"
    ;;
  apt)
    run apt-mark unhold containerd || say "containerd was not held"
    undo() { run apt-mark hold containerd; }
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold "containerd=$VERSION" ||
      fail "apt-get install containerd=$VERSION failed; the hold is back on the installed version"
    run apt-mark hold containerd || fail "installed containerd=$VERSION but could not hold it"
    ;;
esac
undo() { :; } # the package is in and locked: a failed restart is reported, not reverted
now=$(installed)
[[ $now == "$want" ]] || fail "$pm reported success but containerd --version says ${now:-nothing}, not $want"
CHANGED=true
out=$(unit_restart restart containerd) || fail "containerd $now installed and locked, but systemctl restart failed: $out"
wait_answers 60 || fail "containerd $now installed and locked, but it does not answer on $ADDRESS within 60 s"
result true true "containerd upgraded from $have to $now through $pm (locked) and restarted; it answers on $ADDRESS"
