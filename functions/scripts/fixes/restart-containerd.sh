#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: restart-containerd (tier: safe).
# Restarts containerd through systemd (which also recreates a removed socket) and waits, bounded,
# until it answers on its socket again. Inputs: NODEMEDIC_ADDRESS, NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=restart-containerd
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

param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: a restart cannot be undone"

answers() { timeout 8 ctr --address "$ADDRESS" --connect-timeout 2s --timeout 5s version >/dev/null 2>&1; }
wait_answers() { # SECONDS: true once containerd answers, false when the bound runs out
  local end=$((SECONDS + $1))
  until answers; do
    ((SECONDS < end)) || return 1
    sleep 1
  done
}

say "restarting containerd"
out=$(timeout 90 systemctl restart containerd 2>&1) || fail "systemctl restart containerd failed: ${out: -300}"
CHANGED=true
wait_answers 60 || fail "containerd was restarted but does not answer on $ADDRESS within 60 s"
say "containerd answers on $ADDRESS"
result true true "containerd restarted and answers on $ADDRESS"
