#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: raise-grpc-message-size (tier: disruptive).
# Raises [grpc] max_recv_message_size and max_send_message_size to NODEMEDIC_MESSAGE_SIZE (default
# 16 MiB, containerd's own default), never lowering a larger value, in the file that actually sets
# each limit: containerd merges its config with the files it `imports` (globs included, breadth
# first, each later file overriding), so the limit a daemon uses may live in an imported file such
# as /etc/containerd/config.d/*.toml. The effective values come from `containerd config dump`, before
# and after. Each edited file is backed up as <file>.nodemedic-<UTC timestamp>; the edit is checked
# with `containerd --config <config> config dump` BEFORE containerd restarts (a config it would not
# load, or an effective value other than the one asked, puts every file back: nothing changed), and
# if containerd does not answer after the restart the backups are put back and it restarts again.
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
[[ $MODE == apply ]] || refuse "$FIX has no rollback mode: its backups are <file>.nodemedic-<timestamp>"
SIZE=$((10#$SIZE))
# gRPC frames carry a 32-bit length and grpc-go takes an int: anything above 2^31-1 is nonsense.
((SIZE >= 1 && SIZE <= 2147483647)) || refuse "NODEMEDIC_MESSAGE_SIZE must be between 1 and 2147483647"
DEFAULT=16777216 # containerd's default for both keys (1.6, 1.7 and 2.x)

restart() { # restart containerd and wait for it: the message names what failed
  local out
  out=$(unit_restart restart containerd) || { echo "systemctl restart containerd failed: $out"; return 1; }
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
# FILE -> "<recv or -> <send or -> <max_concurrent_streams seen>" as written in its [grpc] table.
grpc_keys() {
  awk "$AWK_LIB"'
    header($0) { in_grpc = is_grpc($0); next }
    in_grpc && is_key($0, "max_recv_message_size") { recv = value($0) }
    in_grpc && is_key($0, "max_send_message_size") { send = value($0) }
    in_grpc && is_key($0, "max_concurrent_streams") { streams = 1 }
    END { print (recv == "" ? "-" : recv), (send == "" ? "-" : send), streams + 0 }
  ' "$1"
}
# FILE -> the files it imports, one a line, as containerd resolves them: a relative path against the
# file's own dir, a glob expanded in byte order (Go's filepath.Glob), a missing file skipped.
imports_of() {
  local p dir
  dir=$(dirname "$1")
  while IFS= read -r p; do
    [[ -n $p ]] || continue
    [[ $p == /* ]] || p=$dir/$p
    if [[ $p == *[*?[]* ]]; then
      compgen -G "$p" | sort || true
    elif [[ -f $p ]]; then
      printf '%s\n' "$p"
    fi
  done < <(awk '
    /^[ \t]*\[/ { exit }                        # imports is a top-level key: stop at the first table
    !open && /^[ \t]*imports[ \t]*=/ { open = 1; sub(/^[^=]*=/, "") }
    open {
      line = $0
      while (match(line, /"[^"]*"|\047[^\047]*\047/)) { print substr(line, RSTART + 1, RLENGTH - 2); line = substr(line, RSTART + RLENGTH) }
      if ($0 ~ /\]/) exit
    }' "$1")
}
# The effective "<recv> <send>" of a config as containerd computes it (imports merged).
effective() {
  local out
  out=$(timeout 10 containerd --config "$1" config dump 2>&1) || { printf '%s' "$out" | tail -n 2; return 1; }
  printf '%s\n' "$out" | awk "$AWK_LIB"'
    header($0) { in_grpc = is_grpc($0); next }
    in_grpc && is_key($0, "max_recv_message_size") { r = value($0) }
    in_grpc && is_key($0, "max_send_message_size") { s = value($0) }
    END { print (r == "" ? "-" : r), (s == "" ? "-" : s) }'
}

# 1. What containerd uses now, and which file sets it: the main config, then its imports breadth
#    first (containerd's order); the last file that sets a key wins.
if [[ -e $CONFIG ]]; then
  now=$(effective "$CONFIG") || fail "containerd cannot load $CONFIG as it is (fix the config first), nothing changed: $now"
else
  now="$DEFAULT $DEFAULT"
fi
read -r eff_recv eff_send <<<"$now"
for v in "$eff_recv" "$eff_send"; do
  [[ $v =~ ^[0-9]{1,12}$ ]] || fail "cannot read the effective [grpc] message sizes from containerd config dump (got '$v'), nothing changed"
done
files=()
declare -A seen=()
pending=("$CONFIG")
while ((${#pending[@]})); do
  f=${pending[0]}
  pending=("${pending[@]:1}")
  [[ -z ${seen[$f]:-} && -f $f ]] || continue
  seen[$f]=1
  files+=("$f")
  mapfile -t more < <(imports_of "$f")
  # The +-guard: bash 4.2 (AL2) calls an empty array unbound under set -u.
  pending+=(${more[@]+"${more[@]}"})
done
recv_file=$CONFIG send_file=$CONFIG recv=- send=- streams=0
for f in ${files[@]+"${files[@]}"}; do
  read -r r s st < <(grpc_keys "$f")
  [[ $r == - ]] || recv_file=$f recv=$r
  [[ $s == - ]] || send_file=$f send=$s
  ((st)) && streams=1
done
note=''
((streams)) && note=' max_concurrent_streams is not a containerd setting (it ignores the key): left as is, it changes nothing.'
where() { [[ $1 == "$CONFIG" ]] && printf '%s' "$CONFIG" || printf '%s (imported by %s)' "$1" "$CONFIG"; }

# 2. Decide: raise a key only when SIZE is above the value containerd uses now.
new_recv='' new_send=''
((SIZE > 10#$eff_recv)) && new_recv=$SIZE
((SIZE > 10#$eff_send)) && new_send=$SIZE
if [[ -z $new_recv && -z $new_send ]]; then
  result true false "containerd's [grpc] message sizes already allow $SIZE bytes (recv $eff_recv, send $eff_send, from $(where "$recv_file")): nothing changed.$note"
  exit 0
fi
targets=()
[[ -n $new_recv ]] && targets+=("$recv_file")
[[ -n $new_send && ( -z $new_recv || $send_file != "$recv_file" ) ]] && targets+=("$send_file")

# 3. Back up each file to edit, then write the edit in place (keeps owner and mode). The daemon
#    reads its config only when it starts, so nothing takes effect before the check below.
backups=()
put_back() { # restore every edited file; true when all came back
  local i ok=0
  for i in "${!backups[@]}"; do
    if [[ -e ${backups[$i]} ]]; then cat "${backups[$i]}" >"${targets[$i]}" || ok=1; else rm -f "${targets[$i]}" || ok=1; fi
  done
  return $ok
}
undo() { put_back && CHANGED=false; }
edit() { # FILE RECV SEND: the file with those [grpc] keys set (empty: leave the key alone)
  local src=$1
  [[ -e $src ]] || src=/dev/null
  awk -v recv="$2" -v send="$3" "$AWK_LIB"'
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
  ' "$src" "$src"
}
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  r='' s=''
  [[ -n $new_recv && $t == "$recv_file" ]] && r=$new_recv
  [[ -n $new_send && $t == "$send_file" ]] && s=$new_send
  NEW=$(mktemp "$t.nodemedic-new.XXXXXX")
  edit "$t" "$r" "$s" >"$NEW"
  backups[$i]=$t.nodemedic-absent
  if [[ -e $t ]]; then
    backups[$i]=$(stamp "$t.nodemedic-")
    cp -p "$t" "${backups[$i]}"
  fi
  cat "$NEW" >"$t"
  rm -f "$NEW"
done
CHANGED=true

# 4. Check before containerd restarts: it must load the result, with the effective values asked.
discard() { # the edit is refused: every file as it was, no backups left, then fail with $1
  put_back || fail "$1; AND the files could not all be put back from ${backups[*]}: restore them by hand"
  for b in "${backups[@]}"; do rm -f "$b"; done
  CHANGED=false
  undo() { :; }
  fail "$1"
}
after=$(effective "$CONFIG") || discard "the edited config does not validate, nothing changed: $after"
read -r eff_recv2 eff_send2 <<<"$after"
if [[ -n $new_recv && $eff_recv2 != "$new_recv" ]] || [[ -n $new_send && $eff_send2 != "$new_send" ]]; then
  discard "after the edit containerd would use recv $eff_recv2 / send $eff_send2, not $SIZE: nothing changed"
fi
real=()
for b in "${backups[@]}"; do [[ $b == *.nodemedic-absent ]] || real+=("$b"); done
BACKUP=${real[*]:-}

# 5. Restart; on failure put the backups back and restart again.
undo() {
  put_back && CHANGED=false || return 1
  say "restored ${targets[*]} from their backups; restarting containerd"
  restart >&2
}
say "set [grpc] max_recv_message_size=${new_recv:-unchanged} max_send_message_size=${new_send:-unchanged} in ${targets[*]}; restarting containerd"
msg=$(restart) || fail "$msg; restored the previous config"
final=$(effective "$CONFIG") || final='? ?'
read -r fin_recv fin_send <<<"$final"
edited=''
for t in "${targets[@]}"; do edited+="${edited:+, }$(where "$t")"; done
result true true "[grpc] max_recv_message_size=${new_recv:-$eff_recv} max_send_message_size=${new_send:-$eff_send} set in $edited; containerd restarted and answers, effective recv $fin_recv / send $fin_send.$note"
