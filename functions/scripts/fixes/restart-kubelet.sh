#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: restart-kubelet (tier: safe).
# For kubelet down while containerd is healthy: restarts kubelet through systemd and waits, bounded,
# for its health endpoint (127.0.0.1:10248/healthz) to say ok.
# Inputs: NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=restart-kubelet
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: a restart cannot be undone"

healthy() { [[ $(timeout 5 curl -s --max-time 2 http://127.0.0.1:10248/healthz 2>/dev/null) == ok ]]; }
load=$(unit_prop kubelet LoadState) || fail "cannot read kubelet's unit from systemd (systemctl show failed): nothing restarted"
[[ $load == loaded ]] || fail "kubelet is not installed as a systemd unit here (LoadState ${load:-empty}): nothing to restart"
say "restarting kubelet"
out=$(unit_restart restart kubelet) || fail "systemctl restart kubelet failed: $out"
CHANGED=true
end=$((SECONDS + 60))
until healthy; do
  ((SECONDS < end)) || fail "kubelet was restarted but its healthz does not say ok within 60 s"
  sleep 2
done
result true true "kubelet restarted and its healthz says ok"
