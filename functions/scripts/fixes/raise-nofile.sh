#!/usr/bin/env bash
# shellcheck disable=SC2153,SC2317 # params are set through printf -v; trap and undo handlers run indirectly
# nodemedic fix: raise-nofile (tier: disruptive).
# Raises containerd's open-file limit with a systemd drop-in and restarts it. It NEVER lowers the
# limit: the current one is read from the running daemon (/proc/PID/limits), from systemd, and from
# any drop-in, and an `infinity`/`unlimited` limit or a requested value below the current one is a
# no-op. A daemon whose limit was lowered at runtime (below what its unit gives) is restarted so the
# unit's limit applies again, with no drop-in written. The previous drop-in is kept as <drop-in>.bak-<UTC timestamp> (or a .none-<timestamp>
# marker when there was none) so that NODEMEDIC_MODE=rollback can put it back.
# Inputs: NODEMEDIC_SYSTEMD_DIR, NODEMEDIC_ADDRESS, NODEMEDIC_MODE (apply|rollback), NODEMEDIC_NOFILE
# (empty: max(current x 2, 1048576), capped at the kernel's fs.nr_open).
# Output: human lines on stderr; the last stdout line is one JSON result. Exit 0 ok, 1 failed, 2 refused.
set -Eeuo pipefail
FIX=raise-nofile
# The shared setup and helpers (say, refuse, fail, result, param, stamp, undo), inlined by fixProgram.
# shellcheck source=functions/scripts/fixes/_preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/_preamble.sh"

param SYSTEMD_DIR NODEMEDIC_SYSTEMD_DIR /etc/systemd/system "$PATH_RE"
param ADDRESS NODEMEDIC_ADDRESS /run/containerd/containerd.sock "$PATH_RE"
param MODE NODEMEDIC_MODE apply '^(apply|rollback)$'
param NOFILE NODEMEDIC_NOFILE '' '^$|^[0-9]{1,10}$|^infinity$'
[[ -z $NOFILE || $NOFILE == infinity ]] || ((10#$NOFILE >= 1024)) || refuse "NODEMEDIC_NOFILE must be at least 1024"
DIR=${SYSTEMD_DIR%/}/containerd.service.d
DROPIN=$DIR/90-nodemedic-nofile.conf

main_pid() { # systemd's MainPID of containerd, empty when it is not running
  local p
  p=$(unit_prop containerd MainPID) || p=
  [[ $p =~ ^[1-9][0-9]*$ && -r /proc/$p/limits ]] && printf '%s' "$p"
  return 0
}
proc_limit() { # PID -> "soft hard" of the Max open files row ("unlimited" stays a word)
  awk '/^Max open files/ { print $4, $5 }' "/proc/$1/limits"
}
restart() { # reload units, restart containerd, wait for it: the message names what failed
  local out
  out=$(timeout 30 systemctl daemon-reload 2>&1) || { echo "systemctl daemon-reload failed: ${out: -200}"; return 1; }
  out=$(unit_restart restart containerd) || { echo "systemctl restart containerd failed: $out"; return 1; }
  wait_answers 60 || { echo "containerd does not answer on $ADDRESS within 60 s after the restart"; return 1; }
}
now_limit() { # the running daemon's "soft hard", or "none"
  local pid
  pid=$(main_pid)
  if [[ -n $pid ]]; then proc_limit "$pid"; else echo none; fi
}

if [[ $MODE == rollback ]]; then
  # The newest marker says what the last apply replaced: a .bak-* holds the previous drop-in, a
  # .none-* says there was none. Each rollback consumes one marker, so a second one steps further back.
  newest=''
  for f in "$DROPIN".bak-* "$DROPIN".none-*; do
    [[ -e $f ]] || continue
    if [[ -z $newest || ${f##*-} > ${newest##*-} ]]; then newest=$f; fi
  done
  if [[ -z $newest ]]; then
    result true false "nothing to roll back: no backup of $DROPIN"
    exit 0
  fi
  if [[ $newest == "$DROPIN".bak-* ]]; then
    mv -f "$newest" "$DROPIN"
    what="restored $DROPIN from $newest"
  else
    rm -f "$DROPIN" "$newest"
    what="removed $DROPIN (there was none before nodemedic wrote it)"
  fi
  say "$what"
  CHANGED=true
  msg=$(restart) || fail "$what, but $msg"
  result true true "$what; containerd restarted with limit $(now_limit) (soft hard)"
  exit 0
fi

# The current limit: the largest of the running daemon's hard limit, systemd's configured one and
# the last LimitNOFILE= among the drop-ins (lexical order, as systemd applies them).
pid=$(main_pid)
soft='' cur=0 sources=()
if [[ -n $pid ]]; then
  read -r soft hard < <(proc_limit "$pid")
  sources+=("pid $pid: soft $soft, hard $hard")
  [[ $hard == unlimited ]] && { result true false "containerd's open-file limit is unlimited: nothing to raise"; exit 0; }
  ((hard > cur)) && cur=$hard
fi
unit=$(unit_prop containerd LimitNOFILE) || unit=
conf=''
for f in "$DIR"/*.conf; do
  [[ -f $f ]] || continue
  v=$(awk -F= '/^[ \t]*LimitNOFILE[ \t]*=/ { v = $2 } END { gsub(/[ \t]/, "", v); print v }' "$f")
  [[ -n $v ]] && conf=$v
done

# A daemon running below the limit its own unit gives it was lowered at runtime (prlimit, a
# wrapper): no drop-in can help, a restart under systemd applies the unit's limit again. What the
# unit gives is capped by systemd's own hard limit (PID 1 cannot hand out more than it may use).
if [[ -n $pid && $hard =~ ^[0-9]+$ ]]; then
  given=${conf:-$unit}
  given=${given##*:}
  [[ $given == infinity ]] && given=$(cat /proc/sys/fs/nr_open)
  pid1=$(awk '/^Max open files/ { print $5 }' /proc/1/limits 2>/dev/null) || pid1=
  [[ $pid1 =~ ^[0-9]+$ && $given =~ ^[0-9]+$ ]] && ((pid1 < given)) && given=$pid1
  if [[ $given =~ ^[0-9]+$ ]] && ((hard < given)) && { [[ -z $NOFILE || $NOFILE == infinity ]] || ((10#$NOFILE > hard)); }; then
    say "containerd (pid $pid) runs with hard limit $hard, below the $given its unit gives: lowered at runtime; restarting it applies the unit's limit (no drop-in written)"
    CHANGED=true
    msg=$(restart) || fail "$msg"
    read -r nsoft nhard < <(now_limit) || true
    [[ $nhard =~ ^[0-9]+$ ]] && ((nhard > hard)) || fail "containerd restarted, but its hard limit is ${nhard:-unknown}, not above $hard"
    result true true "containerd ran with open-file limit $soft/$hard, below the $given its unit gives (lowered at runtime): restarted, now soft $nsoft hard $nhard; no drop-in changed"
    exit 0
  fi
fi

if [[ $unit == infinity ]]; then
  result true false "containerd's unit sets LimitNOFILE=infinity: nothing to raise, never lower it"
  exit 0
elif [[ $unit =~ ^[0-9]+$ ]] && ((unit < 4611686018427387904)); then
  sources+=("unit: $unit")
  ((unit > cur)) && cur=$unit
fi
if [[ -n $conf ]]; then
  sources+=("drop-ins: LimitNOFILE=$conf")
  [[ $conf == infinity || $conf == *:infinity ]] && {
    result true false "a drop-in sets LimitNOFILE=$conf: nothing to raise, never lower it"
    exit 0
  }
  v=${conf##*:}
  [[ $v =~ ^[0-9]+$ ]] || fail "cannot read LimitNOFILE=$conf in $DIR"
  ((v > cur)) && cur=$v
fi
((cur > 0)) || fail "cannot read containerd's current open-file limit (not running, nothing configured): refusing to guess"
say "current limit ${cur} (${sources[*]})"

nr_open=$(cat /proc/sys/fs/nr_open)
if [[ $NOFILE == infinity ]]; then
  target=infinity
elif [[ -n $NOFILE ]]; then
  target=$((10#$NOFILE))
  if ((target < cur)); then
    result true false "requested LimitNOFILE=$target is below the current limit $cur: never lowering, nothing changed"
    exit 0
  fi
else
  target=$((cur * 2 > 1048576 ? cur * 2 : 1048576))
fi
if [[ $target != infinity ]] && ((target > nr_open)); then
  say "capping $target at the kernel's fs.nr_open ($nr_open): systemd cannot set more"
  target=$nr_open
fi
if [[ $target != infinity ]] && ((target <= cur)) && [[ $soft == "$cur" || -z $pid ]]; then
  result true false "containerd's open-file limit is already $cur (at least $target): nothing changed"
  exit 0
fi

mkdir -p "$DIR"
if [[ -e $DROPIN ]]; then
  BACKUP=$(stamp "$DROPIN.bak-")
  cp -p "$DROPIN" "$BACKUP"
  undo() {
    # The apply did not take: this backup is the live drop-in again, so drop it from the history.
    cp -p "$BACKUP" "$DROPIN" && rm -f "$BACKUP" && BACKUP='' CHANGED=false || return 1
    restart >&2 || return 1
  }
else
  marker=$(stamp "$DROPIN.none-")
  : >"$marker"
  undo() {
    rm -f "$DROPIN" "$marker" && CHANGED=false || return 1
    restart >&2 || return 1
  }
fi
printf '# Written by nodemedic raise-nofile at %s (was: %s). Roll back: NODEMEDIC_MODE=rollback.\n[Service]\nLimitNOFILE=%s\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${sources[*]}" "$target" >"$DROPIN.tmp"
mv -f "$DROPIN.tmp" "$DROPIN"
CHANGED=true
say "wrote $DROPIN with LimitNOFILE=$target; restarting containerd"
msg=$(restart) || fail "$msg; restored the previous drop-in"

read -r nsoft nhard < <(now_limit) || true
if [[ $target == infinity ]]; then
  [[ $nhard == unlimited ]] || ((nhard >= cur && nsoft >= cur)) || fail "after the restart containerd's limit is $nsoft/$nhard, below $cur; restored the previous drop-in"
else
  [[ $nsoft == "$target" ]] || fail "after the restart containerd's soft limit is ${nsoft:-unknown}, not $target (another drop-in or the unit overrides it?); restored the previous drop-in"
fi
result true true "LimitNOFILE raised from $cur to $target in $DROPIN; containerd restarted, now soft $nsoft hard $nhard"
