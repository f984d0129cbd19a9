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
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param NODE NODEMEDIC_NODE_NAME '' '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ -n $NODE ]] || refuse "NODEMEDIC_NODE_NAME is required: the Kubernetes node to cordon and drain"

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
