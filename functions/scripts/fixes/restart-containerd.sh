#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: restart-containerd (tier: safe).
# Restarts containerd through systemd (which also recreates a removed socket) and waits, bounded,
# until it answers on its socket again. Inputs: NODEMEDIC_ADDRESS, NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=restart-containerd
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback: a restart cannot be undone"

say "restarting containerd"
out=$(unit_restart restart containerd) || fail "systemctl restart containerd failed: $out"
CHANGED=true
wait_answers 60 || fail "containerd was restarted but does not answer on $ADDRESS within 60 s"
say "containerd answers on $ADDRESS"
result true true "containerd restarted and answers on $ADDRESS"
