#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: collect-goroutine-dump (tier: safe).
# For a wedged containerd: sends SIGUSR1 to its main process, which makes containerd write every
# goroutine's stack to <TMPDIR>/containerd.<pid>.stacks.log (TMPDIR of the daemon, /tmp by default),
# and reports that file once it appears (bounded wait). Harmless to the daemon; it only writes a file.
# Inputs: NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=collect-goroutine-dump
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
[[ $MODE == apply ]] || refuse "$FIX has nothing to roll back"

pid=$(timeout 5 systemctl show -p MainPID --value containerd 2>/dev/null) || pid=
[[ $pid =~ ^[1-9][0-9]*$ && -d /proc/$pid ]] || fail "containerd is not running (MainPID ${pid:-unknown}): no stacks to dump"
# containerd writes into its own os.TempDir(): $TMPDIR from its environment, else /tmp.
tmp=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^TMPDIR=//p' | tail -n 1) || tmp=
[[ $tmp =~ $PATH_RE ]] || tmp=/tmp
file=${tmp%/}/containerd.$pid.stacks.log
before=$(stat -c %Y.%s "$file" 2>/dev/null) || before=
# The main PID only: the unit's other processes (shims) have no business getting the signal.
kill -USR1 "$pid" || fail "could not signal containerd (pid $pid)"
say "sent SIGUSR1 to containerd (pid $pid); waiting for $file"
end=$((SECONDS + 15))
while ((SECONDS < end)); do
  now=$(stat -c %Y.%s "$file" 2>/dev/null) || now=
  if [[ -n $now && $now != "$before" ]]; then
    sleep 1 # the dump is written in one go; give it a moment to finish
    result true false "goroutine dump of containerd (pid $pid) written to $file ($(stat -c %s "$file") bytes)"
    exit 0
  fi
  sleep 1
done
fail "sent SIGUSR1 to containerd (pid $pid) but $file did not appear within 15 s (is it wedged hard, or is TMPDIR elsewhere?)"
