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
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has nothing to roll back"

pid=$(unit_prop containerd MainPID) || pid=
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
