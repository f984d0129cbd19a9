# shellcheck shell=bash disable=SC2034,SC2317 # the fix reads these variables; handlers run indirectly
# nodemedic fix preamble: the setup and helpers every fix script shares (one copy, here).
# Not a script of its own. A fix script sets `set -Eeuo pipefail` and FIX=<its id>, then sources this
# file; fixProgram (functions/scripts/program.ts) puts this file's bytes in place of that source line,
# so an SSM document (which cannot source a file on the node) and the local runner carry the same
# self-contained program.
# Contract for the fix: say/refuse/fail/result report (the last stdout line is one JSON result; exit 0
# ok, 1 failed, 2 refused); param validates an input; stamp names a backup; redefine undo to restore
# what it changed and set CHANGED/BACKUP as it goes; answers/wait_answers probe containerd at
# $ADDRESS (a fix that calls them sets ADDRESS first); kubeconfig finds an admin kubeconfig;
# unit_prop reads one systemd unit property on any systemd; unit_restart restarts a unit through
# systemd's start rate limit.
: "${FIX:?a fix script sets FIX=<id> before the preamble}"
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
answers() { timeout 8 ctr --address "$ADDRESS" --connect-timeout 2s --timeout 5s version >/dev/null 2>&1; }
wait_answers() { # SECONDS: true once containerd answers, false when the bound runs out
  local end=$((SECONDS + $1))
  until answers; do
    ((SECONDS < end)) || return 1
    sleep 1
  done
}
# An admin-capable kubeconfig: $KUBECONFIG when the node's environment sets it, else
# /etc/kubernetes/admin.conf, else /root/.kube/config (kubelet's own credentials cannot evict pods).
kubeconfig() {
  local k
  for k in "${KUBECONFIG:-}" /etc/kubernetes/admin.conf /root/.kube/config; do
    [[ -n $k && $k =~ $PATH_RE && -r $k ]] && { printf '%s' "$k"; return 0; }
  done
  return 1
}
# unit_prop UNIT NAME: one property of a systemd unit, parsed from `systemctl show -p NAME UNIT`
# (`NAME=value` lines; systemd before 230 has no --value). Fails when systemctl cannot answer (no
# systemd, no bus) or does not know the property: the caller must treat that as unknown, never as
# "not there".
unit_prop() {
  local out line
  out=$(timeout 5 systemctl show -p "$2" "$1" 2>/dev/null) || return 1
  while IFS= read -r line; do
    [[ $line == "$2="* ]] && { printf '%s' "${line#*=}"; return 0; }
  done <<<"$out"
  return 1
}
# unit_restart VERB UNIT: `systemctl VERB UNIT` (restart or start), bounded. When systemd refuses
# because the unit hit its start rate limit (Result=start-limit-hit: several starts within
# StartLimitIntervalSec, e.g. a fix right after a crash loop or another fix), clear the counter with
# reset-failed and try once more, as a person would. On failure, prints systemctl's last words.
unit_restart() {
  local out rc=0
  out=$(timeout 90 systemctl "$1" "$2" 2>&1) || rc=$?
  ((rc == 0)) && return 0
  if ((rc == 124)); then
    printf 'systemctl %s %s did not finish within 90 s (a stop that hangs lasts until systemd kills it at TimeoutStopSec)' "$1" "$2"
    return 1
  fi
  if [[ $(unit_prop "$2" Result) == start-limit-hit ]]; then
    say "$2 hit systemd's start rate limit: systemctl reset-failed $2, then $1 once more"
    timeout 10 systemctl reset-failed "$2" >/dev/null 2>&1 || true
    out=$(timeout 90 systemctl "$1" "$2" 2>&1) && return 0
  fi
  printf '%s' "${out: -200}"
  return 1
}
