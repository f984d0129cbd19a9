#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: restart-kubelet (tier: safe).
# For kubelet down while containerd is healthy: restarts kubelet through systemd and waits, bounded,
# for its health endpoint (127.0.0.1:10248/healthz) to say ok.
# Inputs: NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=restart-kubelet
# --- prelude, repeated in every fix: each fix becomes one SSM document and cannot source a file ---
export LC_ALL=C
PATH_RE='^(/[A-Za-z0-9._@+-]+)+/?$'
DONE=0 CHANGED=false BACKUP=''
say() { printf 'nodemedic %s: %s\n' "$FIX" "$*" >&2; }
jstr() {
  local s=${1:0:700}
  s=${s//\\/\\\\} s=${s//\"/\\\"} s=${s//$'\n'/\\n} s=${s//$'\t'/ }
  printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}
result() { # ok changed detail
  DONE=1
  local backup=null
  [[ -n $BACKUP ]] && backup=$(jstr "$BACKUP")
  printf '{"fix":"%s","ok":%s,"changed":%s,"detail":%s,"backup":%s}\n' "$FIX" "$1" "$2" "$(jstr "$3")" "$backup"
}
undo() { :; } # a fix that changes something redefines this to put it back
refuse() { say "refused: $*"; result false false "refused: $*"; exit 2; }
fail() { # restore what this run changed (undo sets CHANGED=false when it did), then report
  say "failed: $*"
  undo || say "could not restore everything: see the lines above"
  result false "$CHANGED" "$*"
  exit 1
}
on_exit() {
  local rc=$?
  ((DONE)) && return
  DONE=1
  fail "unexpected error (exit $rc) at line ${ERR_LINE:-?}"
}
trap 'ERR_LINE=$LINENO' ERR
trap on_exit EXIT
param() { # VAR ENV_NAME DEFAULT PATTERN: empty means the default; anything off-pattern is refused
  local v=${!2:-}
  [[ -n $v ]] || v=$3
  [[ $v =~ $4 ]] || refuse "$2 does not match $4 (got '${v:0:60}')"
  [[ $4 != "$PATH_RE" || ! $v =~ (^|/)\.\.(/|$) ]] || refuse "$2 must not contain '..' (got '${v:0:60}')"
  printf -v "$1" '%s' "$v"
}
stamp() { # PREFIX -> PREFIX<UTC timestamp>, unused so far (waits a second on a clash)
  local ts
  for _ in 1 2 3; do
    ts=$(date -u +%Y%m%dT%H%M%SZ)
    [[ -e $1$ts ]] || { printf '%s%s' "$1" "$ts"; return 0; }
    sleep 1
  done
  return 1
}

param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: a restart cannot be undone"

healthy() { [[ $(timeout 5 curl -s --max-time 2 http://127.0.0.1:10248/healthz 2>/dev/null) == ok ]]; }
load=$(timeout 5 systemctl show -p LoadState --value kubelet 2>/dev/null) || load=
[[ $load == loaded ]] || fail "kubelet is not installed as a systemd unit here (LoadState ${load:-unknown}): nothing to restart"
say "restarting kubelet"
out=$(timeout 90 systemctl restart kubelet 2>&1) || fail "systemctl restart kubelet failed: ${out: -300}"
CHANGED=true
end=$((SECONDS + 60))
until healthy; do
  ((SECONDS < end)) || fail "kubelet was restarted but its healthz does not say ok within 60 s"
  sleep 2
done
result true true "kubelet restarted and its healthz says ok"
