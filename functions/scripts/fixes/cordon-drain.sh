#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: cordon-drain (tier: disruptive).
# Cordons the node so no more pods land on it, then drains it (evicts its pods, DaemonSets aside).
# Needs kubectl and an admin-capable kubeconfig on the node: $KUBECONFIG when the node's environment
# sets it, else /etc/kubernetes/admin.conf, else /root/.kube/config (kubelet's own credentials may
# not evict pods). Without them it fails with a clear message, and nodemedic offers the step to a
# person. A failed drain leaves the node cordoned: that is the safer state for a sick node.
# NODEMEDIC_MODE=rollback uncordons the node.
# Inputs: NODEMEDIC_NODE_NAME (required), NODEMEDIC_MODE (apply|rollback).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=cordon-drain
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

param NODE NODEMEDIC_NODE_NAME '' '^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ -n $NODE ]] || refuse "NODEMEDIC_NODE_NAME is required: the Kubernetes node to cordon and drain"

kubeconfig() {
  local k
  for k in "${KUBECONFIG:-}" /etc/kubernetes/admin.conf /root/.kube/config; do
    [[ -n $k && $k =~ $PATH_RE && -r $k ]] && { printf '%s' "$k"; return 0; }
  done
  return 1
}
command -v kubectl >/dev/null || fail "kubectl is not installed on this node: cordon and drain $NODE by hand"
kc=$(kubeconfig) || fail "no admin kubeconfig on this node (\$KUBECONFIG, /etc/kubernetes/admin.conf, /root/.kube/config): cordon and drain $NODE by hand"

if [[ $MODE == rollback ]]; then
  out=$(timeout 30 kubectl --kubeconfig "$kc" uncordon "$NODE" 2>&1) || fail "kubectl uncordon $NODE failed: ${out: -300}"
  result true true "$NODE uncordoned: ${out: -200}"
  exit 0
fi
out=$(timeout 30 kubectl --kubeconfig "$kc" cordon "$NODE" 2>&1) || fail "kubectl cordon $NODE failed, nothing changed: ${out: -300}"
CHANGED=true
say "$out"
out=$(timeout 300 kubectl --kubeconfig "$kc" drain "$NODE" --ignore-daemonsets --delete-emptydir-data --timeout=240s 2>&1) ||
  fail "kubectl drain $NODE failed; the node stays cordoned: ${out: -300}"
result true true "$NODE cordoned and drained (uncordon with NODEMEDIC_MODE=rollback): ${out: -200}"
