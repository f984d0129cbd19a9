#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: reset-state (tier: destructive, two approvers).
# For corrupted metadata under containerd's root dir: drain the node, stop kubelet and containerd,
# MOVE the root dir aside to <root>.nodemedic-<UTC timestamp> (never delete it), start containerd
# with a fresh root, restore the sandbox (pause) image the CRI config names from a local tarball
# (NODEMEDIC_PAUSE_IMAGE, /etc/eks/pause.tar where the AMI has one) or say exactly what is missing,
# start kubelet. If containerd's metadata is healthy
# already (bolt and CRI plugins ok), it changes nothing, so a second run is harmless.
# Draining, the safest choice: with NODEMEDIC_NODE_NAME set, kubectl must cordon and drain the node
# first or nothing is touched (exit 1). Without a node name, it refuses (exit 2) when kubelet is
# installed (pods may run there and would be orphaned, since KillMode=process leaves them running),
# and goes on only on a machine without kubelet, where there is nothing to drain. The node is left
# cordoned: uncordon it once it looks right. Any failure after the move puts the old root back.
# kubeconfig: $KUBECONFIG when the node's environment sets it, else /etc/kubernetes/admin.conf, else
# /root/.kube/config (kubelet's own credentials cannot evict pods).
# An unknown kubelet state (systemd cannot say) stops it before anything changes.
# Inputs: NODEMEDIC_ROOT, NODEMEDIC_ADDRESS, NODEMEDIC_CONFIG, NODEMEDIC_PAUSE_IMAGE, NODEMEDIC_NODE_NAME,
# NODEMEDIC_MODE.
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=reset-state
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param ROOT NODEMEDIC_ROOT /var/lib/containerd "$PATH_RE"
param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param PAUSE NODEMEDIC_PAUSE_IMAGE /etc/eks/pause.tar "$PATH_RE"
param CONFIG NODEMEDIC_CONFIG /etc/containerd/config.toml "$PATH_RE"
param NODE NODEMEDIC_NODE_NAME '' '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: the old root is kept at $ROOT.nodemedic-<timestamp> for a person"
ROOT=${ROOT%/}
# Moving a top-level dir aside would wreck the machine: the root dir must be at least two deep.
[[ $ROOT == /*/* ]] || refuse "NODEMEDIC_ROOT must be at least two levels deep (got '$ROOT')"

plugin_errors() { # the bolt/CRI plugins in error, "unknown" when ctr cannot tell
  local out
  out=$(timeout 15 ctr --address "$ADDRESS" --connect-timeout 5s --timeout 10s plugins ls 2>/dev/null) || { echo unknown; return 0; }
  printf '%s\n' "$out" | awk '($1 == "io.containerd.metadata.v1" && $2 == "bolt") || ($1 == "io.containerd.grpc.v1" && $2 == "cri") {
    if ($NF != "ok") bad = bad " " $1 "." $2 "=" $NF } END { print substr(bad, 2) }'
}
svc() { # VERB UNIT
  local out
  if [[ $1 == start ]]; then
    out=$(unit_restart start "$2") || { say "systemctl start $2 failed: $out"; return 1; }
  else
    out=$(timeout 90 systemctl "$1" "$2" 2>&1) || { say "systemctl $1 $2 failed: ${out: -200}"; return 1; }
  fi
}

errors=$(plugin_errors)
if answers && [[ -z $errors ]]; then
  result true false "containerd answers and its bolt and CRI plugins are ok: state is healthy, nothing reset"
  exit 0
fi
say "plugins in error: ${errors:-none} (containerd $(answers && echo answers || echo 'does not answer'))"
[[ -d $ROOT ]] || fail "$ROOT is not a directory: nothing to move aside"
if timeout 5 mountpoint -q "$ROOT"; then
  fail "$ROOT is a mount point and cannot be moved aside: replace the node instead"
fi

# Drain first: containers keep running across a containerd stop (KillMode=process). Whether kubelet
# runs here must be known: a state systemd cannot tell is never read as "no kubelet".
load=$(unit_prop kubelet LoadState) || fail "cannot tell whether kubelet runs here (systemctl show kubelet failed): nothing changed"
case $load in
  loaded) kubelet=true ;;
  not-found) kubelet=false ;;
  *) fail "cannot tell whether kubelet runs here (its unit's LoadState is '${load:-empty}'): nothing changed" ;;
esac
drained='no kubelet on this machine: nothing to drain'
if [[ -n $NODE ]]; then
  command -v kubectl >/dev/null || fail "kubectl is not installed: cannot drain $NODE, nothing changed (drain it by hand, or replace the node)"
  kc=$(kubeconfig) || fail "no admin kubeconfig (\$KUBECONFIG, /etc/kubernetes/admin.conf, /root/.kube/config): cannot drain $NODE, nothing changed"
  out=$(timeout 30 kubectl --kubeconfig "$kc" cordon "$NODE" 2>&1) || fail "kubectl cordon $NODE failed, nothing changed: ${out: -300}"
  out=$(timeout 300 kubectl --kubeconfig "$kc" drain "$NODE" --ignore-daemonsets --delete-emptydir-data --timeout=240s 2>&1) ||
    fail "kubectl drain $NODE failed (the node stays cordoned, nothing else changed): ${out: -300}"
  drained="$NODE cordoned and drained (left cordoned: uncordon it once it is healthy)"
elif $kubelet; then
  refuse "kubelet runs here: NODEMEDIC_NODE_NAME is required so the node can be drained before its state is reset"
fi
say "$drained"

if $kubelet; then svc stop kubelet || fail "could not stop kubelet, nothing else changed"; fi
undo() { ! $kubelet || svc start kubelet; }
svc stop containerd || fail "could not stop containerd, its root is untouched"
undo() { svc start containerd; ! $kubelet || svc start kubelet; }

BACKUP=$(stamp "$ROOT.nodemedic-")
mv "$ROOT" "$BACKUP"
CHANGED=true
say "moved $ROOT aside to $BACKUP"
undo() { # put the old root back, as it was before this run
  local ok=0
  svc stop containerd || ok=1
  if [[ -e $ROOT ]]; then mv "$ROOT" "$(stamp "$ROOT.nodemedic-failed-")" || ok=1; fi
  mv "$BACKUP" "$ROOT" && BACKUP='' CHANGED=false || ok=1
  svc start containerd || ok=1
  ! $kubelet || svc start kubelet || ok=1
  return $ok
}
svc start containerd || fail "containerd did not start with a fresh root; put the old root back"
wait_answers 60 || fail "containerd does not answer on $ADDRESS with a fresh root; put the old root back"
errors=$(plugin_errors)
[[ -z $errors ]] || fail "plugins still in error with a fresh root ($errors): not a state problem; put the old root back"

# The sandbox (pause) image the CRI config names must be in k8s.io again: without it no pod starts,
# and on EKS the CRI cannot pull it (ECR wants credentials containerd does not hold).
# has_image NAME: 0 present, 1 absent, 2 cannot tell (ctr fails). A fresh import can take a moment
# to be listed on a loaded node: up to 10 looks, a second apart.
has_image() {
  local list i
  for ((i = 0; i < 10; i++)); do
    if list=$(timeout 15 ctr --address "$ADDRESS" --connect-timeout 5s --timeout 10s -n k8s.io images ls -q 2>/dev/null); then
      grep -qxF "$1" <<<"$list" && return 0
    else
      list=unknown
    fi
    sleep 1
  done
  [[ $list == unknown ]] && return 2
  return 1
}
# v2 configs name it sandbox_image (CRI plugin), v3 configs sandbox (pinned_images); quotes either way.
sandbox=$(timeout 30 containerd --config "$CONFIG" config dump 2>/dev/null |
  sed -nE "s/^[[:space:]]*sandbox(_image)?[[:space:]]*=[[:space:]]*[\"']([^\"']+)[\"'].*/\\2/p" | head -n 1) || sandbox=
imported=''
if [[ -f $PAUSE ]]; then
  if out=$(timeout 120 ctr --address "$ADDRESS" --connect-timeout 5s --timeout 110s -n k8s.io images import "$PAUSE" 2>&1); then
    imported="imported $PAUSE"
  else
    imported="import of $PAUSE failed (${out: -200})"
  fi
fi
present=1
[[ -z $sandbox ]] || { has_image "$sandbox" && present=0 || present=$?; }
if [[ -z $sandbox ]]; then
  pause="WARNING: cannot read the sandbox image from containerd's config (${imported:-no tarball at $PAUSE}): check that the pause image is in k8s.io before pods are scheduled"
elif ((present == 0)); then
  pause="sandbox image $sandbox in k8s.io${imported:+ ($imported)}"
elif ((present == 2)); then
  pause="WARNING: cannot list the k8s.io images to check the sandbox image $sandbox${imported:+ ($imported)}: check it before pods are scheduled"
elif [[ -n $imported && $imported != *failed* ]]; then
  pause="WARNING: the config names sandbox image $sandbox, which is not in k8s.io ($imported, which holds another image): import a tarball of $sandbox (ctr -n k8s.io images import FILE) before pods are scheduled"
elif [[ -n $imported ]]; then
  pause="WARNING: the config names sandbox image $sandbox, which is not in k8s.io ($imported): pods cannot start until it is imported (ctr -n k8s.io images import FILE) or pulled with credentials"
else
  pause="WARNING: the config names sandbox image $sandbox, which is not in k8s.io, and there is no tarball at $PAUSE: pods cannot start until it is imported (ctr -n k8s.io images import FILE) or pulled with credentials"
fi
say "$pause"
kubelet_state=''
if $kubelet; then
  svc start kubelet && kubelet_state='; kubelet started' || kubelet_state='; WARNING: kubelet did not start'
fi
result true true "moved $ROOT aside to $BACKUP; containerd answers with healthy plugins; $pause$kubelet_state; $drained"
