#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: raise-grpc-message-size (tier: disruptive).
# Raises [grpc] max_recv_message_size and max_send_message_size in containerd's config to
# NODEMEDIC_MESSAGE_SIZE (default 16 MiB, containerd's own default), never lowering a larger value.
# The config is backed up as <config>.nodemedic-<UTC timestamp>, the edit is validated with
# `containerd --config <new> config dump` BEFORE it replaces the config, and if containerd does not
# answer after the restart the backup is put back and containerd restarted again (exit 1).
# A max_concurrent_streams key is left alone: containerd has no such setting, editing it is a no-op.
# Inputs: NODEMEDIC_CONFIG, NODEMEDIC_ADDRESS, NODEMEDIC_MESSAGE_SIZE, NODEMEDIC_MODE (apply only).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=raise-grpc-message-size
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param CONFIG NODEMEDIC_CONFIG /etc/containerd/config.toml "$PATH_RE"
param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param SIZE NODEMEDIC_MESSAGE_SIZE 16777216 '^[0-9]{1,10}$'
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
[[ $MODE == apply ]] || refuse "$FIX has no rollback mode: its backup is $CONFIG.nodemedic-<timestamp>"
SIZE=$((10#$SIZE))
# gRPC frames carry a 32-bit length and grpc-go takes an int: anything above 2^31-1 is nonsense.
((SIZE >= 1 && SIZE <= 2147483647)) || refuse "NODEMEDIC_MESSAGE_SIZE must be between 1 and 2147483647"
DEFAULT=16777216 # containerd's default for both keys (1.6, 1.7 and 2.x)

restart() { # restart containerd and wait for it: the message names what failed
  local out
  out=$(timeout 90 systemctl restart containerd 2>&1) || { echo "systemctl restart containerd failed: ${out: -200}"; return 1; }
  wait_answers 60 || { echo "containerd does not answer on $ADDRESS within 60 s after the restart"; return 1; }
}

# Shared awk: the [grpc] table runs from its header to the next table header ([x] or [[x]]).
# Values may use TOML's digit separators (16_777_216).
AWK_LIB='
function header(l) { return l ~ /^[ \t]*\[/ }
function is_grpc(l) { return l ~ /^[ \t]*\[[ \t]*grpc[ \t]*\][ \t]*(#.*)?$/ }
function is_key(l, k) { return l ~ ("^[ \t]*" k "[ \t]*=") }
function value(l) { sub(/^[^=]*=[ \t]*/, "", l); sub(/[ \t]*(#.*)?$/, "", l); gsub(/_/, "", l); return l }
'
# 1. Read what the config says now: "<grpc table seen> <recv or -> <send or -> <streams key seen>".
touch_cfg=$CONFIG
[[ -e $CONFIG ]] || touch_cfg=/dev/null
read -r _ recv send streams < <(awk "$AWK_LIB"'
  header($0) { in_grpc = is_grpc($0); if (in_grpc) seen = 1; next }
  in_grpc && is_key($0, "max_recv_message_size") { recv = value($0) }
  in_grpc && is_key($0, "max_send_message_size") { send = value($0) }
  in_grpc && is_key($0, "max_concurrent_streams") { streams = 1 }
  END { print seen + 0, (recv == "" ? "-" : recv), (send == "" ? "-" : send), streams + 0 }
' "$touch_cfg")
for v in "$recv" "$send"; do
  [[ $v == - || $v =~ ^[0-9]{1,12}$ ]] || fail "cannot read a message size '$v' in [grpc] of $CONFIG: fix it by hand"
done
note=''
((streams)) && note=' max_concurrent_streams is not a containerd setting (it ignores the key): left as is, it changes nothing.'

# 2. Decide: raise a key only when SIZE is above what applies now (the key, or the default).
new_recv='' new_send=''
cur=$([[ $recv == - ]] && echo $DEFAULT || echo $((10#$recv)))
((SIZE > cur)) && new_recv=$SIZE
cur=$([[ $send == - ]] && echo $DEFAULT || echo $((10#$send)))
((SIZE > cur)) && new_send=$SIZE
if [[ -z $new_recv && -z $new_send ]]; then
  result true false "[grpc] message sizes in $CONFIG already allow $SIZE bytes (recv ${recv/-/default}, send ${send/-/default}): nothing changed.$note"
  exit 0
fi

# 3. Write the edit next to the config (same dir, so relative imports resolve the same way).
NEW=$(mktemp "$CONFIG.nodemedic-new.XXXXXX")
undo() { rm -f "$NEW"; }
awk -v recv="$new_recv" -v send="$new_send" "$AWK_LIB"'
  function keys() {
    if (recv != "" && !had_recv) print "  max_recv_message_size = " recv
    if (send != "" && !had_send) print "  max_send_message_size = " send
  }
  FNR == NR {
    if (header($0)) { in_grpc = is_grpc($0); next }
    if (in_grpc && is_key($0, "max_recv_message_size")) had_recv = 1
    if (in_grpc && is_key($0, "max_send_message_size")) had_send = 1
    next
  }
  header($0) { in_grpc = is_grpc($0); print; if (in_grpc) { seen = 1; keys() }; next }
  in_grpc && recv != "" && is_key($0, "max_recv_message_size") { match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) "max_recv_message_size = " recv; next }
  in_grpc && send != "" && is_key($0, "max_send_message_size") { match($0, /^[ \t]*/); print substr($0, 1, RLENGTH) "max_send_message_size = " send; next }
  { print }
  END { if (!seen) { print ""; print "[grpc]"; keys() } }
' "$touch_cfg" "$touch_cfg" >"$NEW"

# 4. Validate before anything changes: containerd must load it, and the effective values (imports
#    included) must be the ones written.
out=$(timeout 10 containerd --config "$NEW" config dump 2>&1) || fail "the edited config does not validate, nothing changed: $(printf '%s' "$out" | tail -n 2)"
read -r eff_recv eff_send < <(printf '%s\n' "$out" | awk "$AWK_LIB"'
  header($0) { in_grpc = is_grpc($0); next }
  in_grpc && is_key($0, "max_recv_message_size") { r = value($0) }
  in_grpc && is_key($0, "max_send_message_size") { s = value($0) }
  END { print (r == "" ? "-" : r), (s == "" ? "-" : s) }')
if [[ -n $new_recv && $eff_recv != "$new_recv" ]] || [[ -n $new_send && $eff_send != "$new_send" ]]; then
  fail "after the edit containerd would use recv $eff_recv / send $eff_send, not $SIZE (an imported file overrides [grpc]?): nothing changed"
fi

# 5. Back up, replace in place (keeps owner and mode), restart; on failure put the backup back.
if [[ -e $CONFIG ]]; then
  BACKUP=$(stamp "$CONFIG.nodemedic-")
  cp -p "$CONFIG" "$BACKUP"
  undo() {
    rm -f "$NEW"
    cat "$BACKUP" >"$CONFIG" && CHANGED=false || return 1
    say "restored $CONFIG from $BACKUP; restarting containerd"
    restart >&2
  }
else
  undo() {
    rm -f "$NEW" "$CONFIG" && CHANGED=false || return 1
    restart >&2
  }
fi
cat "$NEW" >"$CONFIG"
rm -f "$NEW"
CHANGED=true
say "set [grpc] max_recv_message_size=${new_recv:-unchanged} max_send_message_size=${new_send:-unchanged} in $CONFIG; restarting containerd"
msg=$(restart) || fail "$msg; restored the previous config"
result true true "[grpc] max_recv_message_size=${new_recv:-${recv/-/default}} max_send_message_size=${new_send:-${send/-/default}} in $CONFIG; containerd restarted and answers.$note"
