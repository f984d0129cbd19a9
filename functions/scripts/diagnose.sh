#!/usr/bin/env bash
# nodemedic diagnose: read-only facts about containerd on this node, as ONE compact JSON document
# on stdout (the `Facts` contract in functions/core/facts.ts, schema 1).
#
# The single source of truth: the SSM document embeds these exact bytes, the CLI and the local
# shell runner run this same file. Runs as root on Amazon Linux 2, AL2023 and Ubuntu with bash 4+,
# coreutils, util-linux and procps only (no jq, no python). It changes nothing on the node.
#
# Every external call is bounded by `timeout`, and the calls that can hang on a wedged daemon
# (`ctr`) also carry their own dial/request timeouts. Worst case: the bounds of the probes that can
# hang add up to about 175 s (ctr: version 15, plugins 10 + 10, images 10, tasks 3 x 10; config
# dump 10; containerd --version 5; systemctl 2 x 5; pgrep/stat/ls 5 x 5; journal 4 x 5 and dmesg
# 5; df 4 x 5; curl 4), plus 5 s per other containerd process and 2 s per shim or runc process
# (their cmdline), each call plus 1 s kill grace: far above the SSM document's 60 s
# (DIAGNOSE_TIMEOUT_SECONDS in functions/core/script-params.ts).
# So the run enforces its own DEADLINE_S (40 s): every call is clamped to the time left before it
# (less RESERVE_MS for the kill grace and the printing), a probe started with no time left is not
# run, and its section says `unknown` (listed in `script.unfinished`). The whole document is
# therefore printed within about 41 s, never cut by SSM's timeout.
# A probe that fails says `unknown` with a reason; the document is valid JSON whatever happens and
# stays well under SSM's 24,000-character stdout cap. Exit 0 whenever the document was printed.
# It never uses `systemctl show --value` (systemd 230+; AL2's 219 lacks it): `KEY=value` lines only.
#
# Overrides (empty means the default), validated upstream against script-params.ts patterns:
#   NODEMEDIC_ADDRESS     containerd's socket            (/run/containerd/containerd.sock)
#   NODEMEDIC_CONFIG      containerd's config            (/etc/containerd/config.toml)
#   NODEMEDIC_ROOT        containerd's root dir          (/var/lib/containerd)
#   NODEMEDIC_STATE       containerd's state dir         (/run/containerd)
#   NODEMEDIC_LOG_FILE    read log lines from this file instead of the journal
#   NODEMEDIC_PAUSE_IMAGE where the AMI keeps the pause image tarball (/etc/eks/pause.tar)
#   NODEMEDIC_DEADLINE_SECONDS  tests only: a deadline below the 40 s default
#   NODEMEDIC_DEPTH       `full` (default) or `quick`: a cluster sweep's probe. Quick skips the
#                         slow sections (logs, images, shims and tasks, plugin errors), which say
#                         `unknown` ("not run: quick probe"), and keeps a 15 s deadline; the
#                         document has the same shape, so the same analyzer reads it.
# No `set -e`/`set -u`: a probe that trips must leave its section `unknown`, never kill the run
# before the document is printed.
export LC_ALL=C
# SSM's AWS-RunShellScript may run with a short PATH; keep the caller's first (the sandbox's
# systemctl stand-in comes first locally), then the usual system dirs.
export PATH="${PATH:-}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SCRIPT_VERSION=1.1.0
DEFAULT_CONFIG=/etc/containerd/config.toml
ADDRESS=${NODEMEDIC_ADDRESS:-/run/containerd/containerd.sock}
CONFIG=${NODEMEDIC_CONFIG:-$DEFAULT_CONFIG}
ROOT_DIR=${NODEMEDIC_ROOT:-/var/lib/containerd}
STATE_DIR=${NODEMEDIC_STATE:-/run/containerd}
LOG_FILE=${NODEMEDIC_LOG_FILE:-}
PAUSE_TAR=${NODEMEDIC_PAUSE_IMAGE:-/etc/eks/pause.tar}

# Caps that keep the document small whatever the node holds. At every cap at once the document
# is about 26,000 characters, 9,000 of them log samples, which DOC_LIMIT then drops: about 17,000.
CAP_ERROR=300       # CallResult.error, parse errors
CAP_SAMPLE=300      # one log sample line
CAP_LINE=200        # a config line
CAP_LIST=20         # entries in any list
LOG_LINES=5000      # log lines read per source
SAMPLE_BUDGET=9000  # JSON characters of log samples in all
DOC_LIMIT=19000     # beyond this, samples are dropped (the counts stay)

# Log signatures: id<TAB>fixed text (or ~regex). Ids EXACTLY as LOG_SIGNATURES in functions/core/facts.ts.
SIGNATURES='too-many-open-files	too many open files
message-too-large	received message larger than max
invalid-database	invalid database
toml-load-failed	failed to load TOML
unknown-toml-key	Ignoring unknown key in TOML
socket-refused	containerd.sock: connect: connection refused
deadline-exceeded	code = DeadlineExceeded
pleg-unhealthy	PLEG is not healthy
runtime-down	container runtime is down
runtime-not-ready	container runtime not ready
no-space	no space left on device
read-only-fs	read-only file system
read-only-port	~:10255([^0-9]|$)
oom-kill	Out of memory: Killed process
toml-unmarshal-failed	failed to unmarshal TOML'

# --- time and JSON helpers ---------------------------------------------------------------------

# Milliseconds since the epoch; EPOCHREALTIME is bash 5, AL2's bash 4.2 falls back to date.
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#${t:0:13}))
  else
    date +%s%3N
  fi
}
START_MS=$(now_ms)
# CPU steal is measured over the script's own run: /proc/stat now and again at the end.
cpu_sample() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t " " $9; exit }' /proc/stat 2>/dev/null; }
CPU_SAMPLE1=$(cpu_sample)

# The run's own deadline, below the SSM document's timeout (see the header).
DEADLINE_S=40
# A sweep's quick probe: fewer sections, a shorter deadline (NODEMEDIC_DEPTH in the header).
QUICK=false
if [[ ${NODEMEDIC_DEPTH:-} == quick ]]; then
  QUICK=true
  DEADLINE_S=15
fi
QUICK_SKIPS=" logs images processes tasks plugin-errors "
if [[ ${NODEMEDIC_DEADLINE_SECONDS:-} =~ ^[0-9]{1,3}$ ]] && ((10#$NODEMEDIC_DEADLINE_SECONDS > 0 && 10#$NODEMEDIC_DEADLINE_SECONDS < DEADLINE_S)); then
  DEADLINE_S=$((10#$NODEMEDIC_DEADLINE_SECONDS))
fi
RESERVE_MS=2000
DEADLINE_MS=$((START_MS + DEADLINE_S * 1000 - RESERVE_MS))
UNFINISHED=""
# Seconds a call bounded by $1 may still take, in BOUND: min($1, whole seconds left), 0 when none.
bound() {
  local left=$(((DEADLINE_MS - $(now_ms)) / 1000))
  ((left < 0)) && left=0
  BOUND=$(($1 < left ? $1 : left))
}
# `timeout` clamped to the deadline; exit 124 without running when no time is left.
tmo() {
  local BOUND
  bound "$1"
  shift
  ((BOUND > 0)) || return 124
  timeout -k 1 "$BOUND" "$@"
}
# True (and the section is listed as unfinished) when less than a second is left for section $1.
# A quick probe skips its slow sections here too, with their own reason and not as unfinished.
late() {
  if [[ $QUICK == true && $QUICK_SKIPS == *" $1 "* ]]; then
    LATE_REASON="not run: quick probe (a cluster sweep's; the full diagnosis reads it)"
    return 0
  fi
  LATE_REASON="not run: the run's ${DEADLINE_S} s deadline had passed"
  bound 1
  ((BOUND > 0)) && return 1
  UNFINISHED+=${UNFINISHED:+$'\n'}$1
  return 0
}
LATE_REASON="not run: the run's ${DEADLINE_S} s deadline had passed"

# JSON string literal of $1 in REPLY: backslash, quote and every control character escaped.
json_str() {
  local s=$1 i c hex
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//$'\b'/\\b}
  s=${s//$'\f'/\\f}
  if [[ $s == *[$'\001'-$'\037'$'\177']* ]]; then
    for ((i = 1; i < 32; i++)); do
      printf -v hex '%02x' "$i"
      printf -v c "\\x$hex"
      s=${s//"$c"/\\u00$hex}
    done
    s=${s//$'\177'/\\u007f}
  fi
  REPLY="\"$s\""
}

# Like json_str but null for an empty value.
json_str_or_null() {
  if [[ -z ${1:-} ]]; then REPLY=null; else json_str "$1"; fi
}

# The opening of a probe's JSON object: {"status":"$1", plus "reason" when $2 gives one.
probe_head() {
  REPLY="{\"status\":\"$1\""
  if [[ -n ${2:-} ]]; then
    local head=$REPLY
    json_str "$2"
    REPLY="$head,\"reason\":$REPLY"
  fi
}

# A JSON number for an integer or decimal, else null.
json_num() {
  if [[ ${1:-} =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
    local n=$1
    # JSON forbids leading zeros: strip them from the integer part.
    if [[ $n =~ ^(-?)0+([0-9].*)$ ]]; then n=${BASH_REMATCH[1]}${BASH_REMATCH[2]}; fi
    REPLY=$n
  else
    REPLY=null
  fi
}

json_bool() { if [[ ${1:-} == true ]]; then REPLY=true; elif [[ ${1:-} == false ]]; then REPLY=false; else REPLY=null; fi; }

# A JSON array of strings from the lines of $1 (at most $3, default CAP_LIST, each capped at $2 bytes).
json_str_array() {
  local out="" line n=0 cap=${2:-$CAP_LINE} max=${3:-$CAP_LIST}
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    ((n >= max)) && break
    json_str "${line:0:cap}"
    out+=${out:+,}$REPLY
    ((n++))
  done <<<"${1:-}"
  REPLY="[$out]"
}

# First non-empty lines of $1 joined by ' | ', capped.
first_lines() {
  local s
  s=$(printf '%s\n' "${1:-}" | sed '/^[[:space:]]*$/d' | head -n 3 | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
  REPLY=${s:0:$CAP_ERROR}
}

# Run a bounded command; sets RUN_RC, RUN_OUT (stdout+stderr merged), RUN_MS.
RUN_RC=0
RUN_OUT=""
RUN_MS=0
RUN_BOUND=0
run_bounded() {
  local t0 BOUND
  bound "$1"
  shift
  RUN_BOUND=$BOUND
  t0=$(now_ms)
  if ((BOUND > 0)); then
    RUN_OUT=$(timeout -k 1 "$BOUND" "$@" 2>&1)
    RUN_RC=$?
  else
    RUN_OUT="not run: the run's ${DEADLINE_S} s deadline had passed"
    RUN_RC=124
  fi
  RUN_MS=$(($(now_ms) - t0))
}

# The CallResult object for the last run_bounded, in REPLY.
call_result() {
  local ok=false err=""
  if ((RUN_RC == 0)); then
    ok=true
  else
    # The error line itself (ctr prints its client version block before failing).
    local errs
    errs=$(grep -E -i 'error|fail|ctr:|refused|denied|timed out|deadline' <<<"$RUN_OUT")
    first_lines "${errs:-$RUN_OUT}"
    err=$REPLY
    if ((RUN_BOUND == 0)); then
      err=$RUN_OUT
    elif ((RUN_RC == 124 || RUN_RC == 137)); then
      err="timed out after ${RUN_BOUND}s${err:+: $err}"
    fi
    err=${err:0:$CAP_ERROR}
  fi
  local obj="{\"ok\":$ok,\"exitCode\":$RUN_RC,\"elapsedMs\":$RUN_MS"
  if [[ -n $err ]]; then
    json_str "$err"
    obj+=",\"error\":$REPLY"
  fi
  REPLY="$obj}"
}

have() { command -v "$1" >/dev/null 2>&1; }

# A live (non-zombie) process: PID 1 on some machines never reaps orphans.
pid_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] && ((pid > 0)) || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}

# --- systemd ----------------------------------------------------------------------------------------
# systemctl show -p A,B unit → assoc SHOW[A]=value. `KEY=value` output, not `--value`: AL2's
# systemd 219 predates --value.
declare -A SHOW=()
systemd_show() {
  SHOW=()
  run_bounded 5 systemctl show -p "$2" "$1"
  ((RUN_RC == 0)) || return 1
  local line
  while IFS= read -r line; do
    [[ $line == *=* ]] && SHOW[${line%%=*}]=${line#*=}
  done <<<"$RUN_OUT"
  return 0
}

# systemd is here when PID 1 is systemd, or when systemctl answers (the sandbox's stand-in
# counts): one call that also reads containerd's unit.
SYSTEMD=false
SYSTEMCTL_OK=false
CTD_SHOWN=false
CTD_ACTIVE=""
CTD_INVOCATION=""
if have systemctl && systemd_show containerd LoadState,ActiveState,SubState,NRestarts,MainPID,InvocationID &&
  [[ ${SHOW[MainPID]:-} =~ ^[0-9]+$ ]]; then
  SYSTEMCTL_OK=true
  CTD_SHOWN=true
  # Kept apart from SHOW, which the kubelet probe reuses: the journal read below scopes to this run.
  CTD_ACTIVE=${SHOW[ActiveState]:-}
  CTD_INVOCATION=${SHOW[InvocationID]:-}
fi
if [[ -d /run/systemd/system || $SYSTEMCTL_OK == true ]]; then SYSTEMD=true; fi

# --- the host this shell sees -------------------------------------------------------------------
# On Bottlerocket, SSM's shell runs in the control container: its own PID and mount namespaces,
# no host systemd, socket, config or journal. Say what this view is so the analyzer never reads an
# invisible containerd as a stopped one.
PID1=$(tr -d '\n' </proc/1/comm 2>/dev/null)
OS_NAME=$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | head -n 1 | tr -d '"')
BR_MARKS=""
[[ -e /.bottlerocket ]] && BR_MARKS+=$'/.bottlerocket\n'
have apiclient && BR_MARKS+=$'apiclient\n'
grep -qi '^\(ID\|NAME\|PRETTY_NAME\)=.*bottlerocket' /etc/os-release 2>/dev/null && BR_MARKS+=$'/etc/os-release\n'
json_str_or_null "${PID1:0:40}"
h_pid1=$REPLY
json_str_or_null "${OS_NAME:0:100}"
h_os=$REPLY
json_str_array "$BR_MARKS" 40
HOST_JSON="{\"status\":\"ok\",\"pid1\":$h_pid1,\"systemctl\":$SYSTEMCTL_OK,\"os\":$h_os,\"bottlerocket\":$REPLY}"

# --- containerd: service, main PID, versions ----------------------------------------------------
SVC_JSON='{"status":"n/a","reason":"no systemd on this machine"}'
SYSTEMD_PID=""
if [[ $SYSTEMD == true ]]; then
  if [[ $CTD_SHOWN == true ]]; then
    if [[ ${SHOW[LoadState]:-} == not-found ]]; then
      SVC_JSON='{"status":"n/a","reason":"no containerd.service unit"}'
    else
      json_str "${SHOW[ActiveState]:-}"
      a=$REPLY
      json_str "${SHOW[SubState]:-}"
      s=$REPLY
      json_num "${SHOW[NRestarts]:-}"
      SVC_JSON="{\"status\":\"ok\",\"activeState\":$a,\"subState\":$s,\"nRestarts\":$REPLY}"
      SYSTEMD_PID=${SHOW[MainPID]:-}
    fi
  else
    first_lines "$RUN_OUT"
    json_str "systemctl show failed: $REPLY"
    SVC_JSON="{\"status\":\"unknown\",\"reason\":$REPLY}"
  fi
fi

# The config file a containerd process runs with (its --config/-c, else the default).
process_config() {
  local -a argv=()
  local i
  # NUL-separated argv; `mapfile -d` needs bash 4.4 and AL2 has 4.2, so go through tr.
  [[ -r /proc/$1/cmdline ]] || return 1
  mapfile -t argv < <(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null)
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case ${argv[i]} in
      --config | -c) echo "${argv[i + 1]:-}" && return 0 ;;
      --config=* | -c=*) echo "${argv[i]#*=}" && return 0 ;;
    esac
  done
  echo "$DEFAULT_CONFIG"
}

# The inode of the unix socket listening at ADDRESS, from /proc/net/unix.
socket_inode() {
  awk -v p="$ADDRESS" '$NF == p && $6 == "01" { print $7; exit }' /proc/net/unix 2>/dev/null
}

PID=""
PID_SOURCE=none
if [[ -n $SYSTEMD_PID && $SYSTEMD_PID != 0 ]] && pid_alive "$SYSTEMD_PID"; then
  PID=$SYSTEMD_PID
  PID_SOURCE=systemd
else
  # pgrep -x: an exact name, never the shims (containerd-shim-runc-v2). Several daemons may run
  # (tests run more than one): pick the one serving ADDRESS, by config file or socket inode.
  candidates=()
  if have pgrep; then
    while IFS= read -r p; do
      pid_alive "$p" && candidates+=("$p")
    done < <(tmo 5 pgrep -x containerd 2>/dev/null)
  fi
  inode=""
  for p in "${candidates[@]}"; do
    if [[ $(process_config "$p") == "$CONFIG" ]]; then PID=$p && break; fi
  done
  if [[ -z $PID && ${#candidates[@]} -gt 0 ]]; then
    inode=$(socket_inode)
    if [[ -n $inode ]]; then
      for p in "${candidates[@]}"; do
        if tmo 5 find "/proc/$p/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
          PID=$p && break
        fi
      done
    fi
  fi
  [[ -n $PID ]] && PID_SOURCE=pgrep
fi

BINARY_VERSION=""
if have containerd; then
  run_bounded 5 containerd --version
  ((RUN_RC == 0)) && BINARY_VERSION=$(awk '{ print $3; exit }' <<<"$RUN_OUT")
fi

# --- the socket and a real bounded call ---------------------------------------------------------
SOCK_EXISTS=false
SOCK_IS=false
SOCK_MODE=""
SOCK_OWNER=""
CALL_JSON=null
CALL_OK=false
SERVER_VERSION=""
SOCK_STATUS=ok
SOCK_REASON=""
[[ -e $ADDRESS || -L $ADDRESS ]] && SOCK_EXISTS=true
[[ -S $ADDRESS ]] && SOCK_IS=true
if [[ $SOCK_EXISTS == true ]]; then
  SOCK_MODE=$(tmo 5 stat -c %a "$ADDRESS" 2>/dev/null)
  SOCK_OWNER=$(tmo 5 stat -c %U:%G "$ADDRESS" 2>/dev/null)
fi
if [[ $SOCK_IS == true ]]; then
  if have ctr; then
    # Without both bounds ctr can hang for ever on a daemon at its fd limit.
    run_bounded 15 ctr --address "$ADDRESS" --connect-timeout 5s --timeout 10s version
    call_result 15
    CALL_JSON=$REPLY
    if ((RUN_RC == 0)); then
      CALL_OK=true
      SERVER_VERSION=$(awk '/^Server:/ { s = 1 } s && $1 == "Version:" { print $2; exit }' <<<"$RUN_OUT")
    fi
  else
    SOCK_STATUS=unknown
    SOCK_REASON="ctr is not installed"
  fi
fi

# --- plugins ------------------------------------------------------------------------------------
# CRI's plugins: 1.x has one (grpc.v1/cri); 2.x splits it (cri.v1/images, cri.v1/runtime, the
# podsandbox controller) and keeps grpc.v1/cri as the service that depends on them.
CRI_PLUGINS_RE='grpc\.v1/cri$|cri\.v1/|podsandbox'
PLUG_JSON='{"status":"unknown","reason":"the daemon did not answer ctr version","total":null,"errored":[]}'
if [[ $SOCK_IS != true ]]; then
  PLUG_JSON='{"status":"unknown","reason":"no socket at the address","total":null,"errored":[]}'
elif [[ $CALL_OK == true ]] && late plugins; then
  json_str "$LATE_REASON"
  PLUG_JSON="{\"status\":\"unknown\",\"reason\":$REPLY,\"total\":null,\"errored\":[]}"
elif [[ $CALL_OK == true ]]; then
  # The daemon just answered: a shorter bound, in case it wedges now.
  run_bounded 10 ctr --address "$ADDRESS" --connect-timeout 3s --timeout 7s plugins ls
  if ((RUN_RC == 0)); then
    total=$(awk 'NR > 1 && NF >= 4 { n++ } END { print n + 0 }' <<<"$RUN_OUT")
    # bolt and CRI first: they are the ones that matter, and the list is capped.
    errored=$(awk 'NR > 1 && NF >= 4 && $NF == "error" { print $1 "/" $2 }' <<<"$RUN_OUT" |
      RE="metadata\\.v1/bolt$|$CRI_PLUGINS_RE" awk '$0 ~ ENVIRON["RE"] { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }')
    json_str_array "$errored" 200
    errored_json=$REPLY
    plug_errs=""
    # Each errored plugin's own error text (`plugins ls -d`): it tells a CRI configuration error
    # from unreadable bolt metadata. Only asked when bolt or a CRI plugin is in error.
    if grep -q -E "metadata\.v1/bolt$|$CRI_PLUGINS_RE" <<<"$errored" && ! late plugin-errors; then
      run_bounded 10 ctr --address "$ADDRESS" --connect-timeout 3s --timeout 7s plugins ls -d
      if ((RUN_RC == 0)); then
        # "type/id<TAB>message" for every plugin with an Error block (first Message line).
        details=$(awk '
          /^Type:/ { type = $2; id = ""; inerr = 0; next }
          /^ID:/ { id = $2; next }
          /^Error:/ { inerr = 1; next }
          inerr && /^[[:space:]]+Message:/ { m = $0; sub(/^[[:space:]]*Message:[[:space:]]*/, "", m); gsub(/\t/, " ", m); print type "/" id "\t" m; inerr = 0 }' <<<"$RUN_OUT")
        n=0
        while IFS= read -r pid_; do
          # Only bolt's and CRI's texts: the plugins that fail after them repeat bolt's error.
          [[ -z $pid_ ]] && continue
          RE="metadata\\.v1/bolt$|$CRI_PLUGINS_RE" awk '$0 !~ ENVIRON["RE"] { exit 1 }' <<<"$pid_" || continue
          ((n >= CAP_LIST)) && break
          msg=$(awk -F '\t' -v k="$pid_" '$1 == k { print $2; exit }' <<<"$details")
          [[ -z $msg ]] && continue
          json_str "$pid_"
          e_id=$REPLY
          json_str "${msg:0:$CAP_ERROR}"
          plug_errs+="${plug_errs:+,}{\"id\":$e_id,\"error\":$REPLY}"
          ((n++))
        done <<<"$errored"
        PLUG_EXTRA=",\"errors\":[$plug_errs]"
      else
        first_lines "$RUN_OUT"
        json_str "ctr plugins ls -d failed: $REPLY"
        PLUG_EXTRA=",\"errorsUnread\":$REPLY"
      fi
    fi
    PLUG_JSON="{\"status\":\"ok\",\"total\":$total,\"errored\":$errored_json${PLUG_EXTRA:-}}"
  else
    first_lines "$(grep -E -i 'error|fail|ctr:' <<<"$RUN_OUT")"
    ((RUN_RC == 124 || RUN_RC == 137)) && REPLY="timed out after ${RUN_BOUND}s"
    json_str "ctr plugins ls failed: ${REPLY:-exit code $RUN_RC}"
    PLUG_JSON="{\"status\":\"unknown\",\"reason\":$REPLY,\"total\":null,\"errored\":[]}"
  fi
fi

# --- config -------------------------------------------------------------------------------------
CFG_EXISTS=false
SANDBOX_IMAGE=""
CFG_PARSES=null
CFG_EXTRA=""
CFG_STATUS=ok
CFG_REASON=""
DECLARED=""
IMPORTS=""
GRPC=""
# Top-level `imports = [...]` (possibly over several lines): the quoted entries, one a line.
toml_imports() {
  awk '
    /^[[:space:]]*\[/ { exit }
    /^[[:space:]]*imports[[:space:]]*=/ { grab = 1 }
    grab {
      line = $0
      sub(/#.*/, "", line)
      while (match(line, /"[^"]*"|'"'"'[^'"'"']*'"'"'/)) {
        print substr(line, RSTART + 1, RLENGTH - 2)
        line = substr(line, RSTART + RLENGTH)
      }
      if ($0 ~ /\]/) exit
    }' "$1" 2>/dev/null
}
# Raw `key = value` lines of the [grpc] table, as written.
toml_grpc() {
  awk '
    /^[[:space:]]*\[/ { t = $0; sub(/^[[:space:]]*\[[[:space:]]*/, "", t); sub(/[[:space:]]*\].*$/, "", t); in_grpc = (t == "grpc"); next }
    in_grpc && /^[[:space:]]*[A-Za-z0-9_."-]+[[:space:]]*=/ { l = $0; sub(/^[[:space:]]+/, "", l); sub(/[[:space:]]+$/, "", l); print l }
  ' "$1" 2>/dev/null
}
if [[ -e $CONFIG ]]; then
  CFG_EXISTS=true
  if [[ ! -r $CONFIG ]]; then
    CFG_STATUS=unknown
    CFG_REASON="config is not readable"
  else
    DECLARED=$(awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); sub(/[^0-9].*$/, "", v); print v; exit }' "$CONFIG" 2>/dev/null)
    GRPC=$(toml_grpc "$CONFIG")
    cfg_dir=$(dirname "$CONFIG")
    while IFS= read -r imp; do
      [[ -z $imp ]] && continue
      [[ $imp != /* ]] && imp=$cfg_dir/$imp
      matched=0
      for f in $imp; do
        [[ -f $f ]] || continue
        matched=1
        IMPORTS+=$f$'\n'
        GRPC+=${GRPC:+$'\n'}$(toml_grpc "$f")
      done
      ((matched)) || IMPORTS+=$imp$'\n'
    done < <(toml_imports "$CONFIG")
  fi
  if late config; then
    CFG_STATUS=unknown
    CFG_REASON=$LATE_REASON
  elif have containerd; then
    # containerd's own loader is the only parser that agrees with containerd.
    run_bounded 10 containerd --config "$CONFIG" config dump
    # 2.x warns (on stderr, merged here) about keys it no longer reads, at load and in a dump:
    # `msg="Ignoring unknown key in TOML for plugin" ... key=disable_cgroup plugin=io.containerd.cri.v1.runtime`.
    ignored=$(awk '/Ignoring unknown key in TOML/ {
        k = ""; p = ""
        if (match($0, /key=[^ ]+/)) k = substr($0, RSTART + 4, RLENGTH - 4)
        if (match($0, /plugin=[^ ]+/)) p = substr($0, RSTART + 7, RLENGTH - 7)
        if (k != "" && !seen[p k]++) print (p != "" ? p " " : "") k
      }' <<<"$RUN_OUT")
    if [[ -n $ignored ]]; then
      json_str_array "$ignored" 120 10
      CFG_EXTRA+=",\"ignoredKeys\":$REPLY"
    fi
    if ((RUN_RC == 0)); then
      CFG_PARSES=true
      # The sandbox (pause) image the CRI uses, as containerd resolved it (defaults and imports
      # included): 1.x `sandbox_image = "..."` under the CRI plugin, 2.x `sandbox = '...'` under
      # [plugins.'io.containerd.cri.v1.images'.pinned_images].
      SANDBOX_IMAGE=$(awk '
        /^[[:space:]]*\[/ { pinned = ($0 ~ /pinned_images/); next }
        /^[[:space:]]*sandbox_image[[:space:]]*=/ || (pinned && /^[[:space:]]*sandbox[[:space:]]*=/) {
          v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); gsub(/["'"'"']/, "", v); sub(/[[:space:]]+$/, "", v); print v; exit
        }' <<<"$RUN_OUT")
    elif ((RUN_RC == 124 || RUN_RC == 137)); then
      CFG_STATUS=unknown
      CFG_REASON="containerd config dump timed out"
    else
      CFG_PARSES=false
      # 1.x: `containerd: failed to load TOML: FILE: (16, 6): ...`; 2.x: `containerd: failed to
      # unmarshal TOML at row 16 column 6: ...`, its file only in the logrus line before (file=...).
      perr=$(grep -m1 -E 'failed to (load|unmarshal) TOML' <<<"$RUN_OUT" | grep -v 'level=')
      [[ -z $perr ]] && perr=$(grep -m1 -E '^containerd: |failed to load TOML|toml|config' <<<"$RUN_OUT")
      [[ -z $perr ]] && perr=$(sed '/^[[:space:]]*$/d' <<<"$RUN_OUT" | tail -n 1)
      perr=${perr#containerd: }
      json_str "${perr:0:$CAP_ERROR}"
      CFG_EXTRA+=",\"parseError\":$REPLY"
      eline=""
      efile=$CONFIG
      if [[ $perr =~ \(([0-9]+),\ *([0-9]+)\) || $perr =~ at\ row\ ([0-9]+)\ column\ ([0-9]+) ]]; then
        eline=${BASH_REMATCH[1]}
      fi
      if [[ -n $eline ]]; then
        # The error names the file it failed in (maybe an import).
        if [[ $perr =~ TOML\ from\ ([^:]+): || $perr =~ TOML:\ ([^:]+): ]] && [[ -f ${BASH_REMATCH[1]} ]]; then
          efile=${BASH_REMATCH[1]}
        else
          f=$(grep -m1 'Failure unmarshaling TOML' <<<"$RUN_OUT" | sed -n 's/.* file=\([^ ]*\).*/\1/p')
          [[ -n $f && -f $f ]] && efile=$f
        fi
        if [[ $efile != "$CONFIG" ]]; then
          json_str "$efile"
          CFG_EXTRA+=",\"errorFile\":$REPLY"
        fi
        etext=$(sed -n "${eline}p" "$efile" 2>/dev/null)
        json_str "${etext:0:$CAP_LINE}"
        CFG_EXTRA+=",\"errorLine\":$eline,\"errorLineText\":$REPLY"
      else
        CFG_EXTRA+=',"errorLine":null,"errorLineText":null'
      fi
    fi
  else
    CFG_STATUS=unknown
    CFG_REASON="containerd binary not found, cannot test the config"
  fi
fi
json_str "$CONFIG"
cfg_path=$REPLY
json_num "$DECLARED"
cfg_ver=$REPLY
json_str_array "$GRPC" "$CAP_LINE"
cfg_grpc=$REPLY
json_str_array "$IMPORTS" "$CAP_LINE"
cfg_imports=$REPLY
probe_head "$CFG_STATUS" "$CFG_REASON"
CFG_JSON="$REPLY,\"path\":$cfg_path,\"exists\":$CFG_EXISTS,\"parses\":$CFG_PARSES$CFG_EXTRA,\"declaredVersion\":$cfg_ver,\"grpc\":$cfg_grpc,\"imports\":$cfg_imports}"

# --- logs ---------------------------------------------------------------------------------------
# Match lines against SIGNATURES in one awk pass: "id<TAB>count<TAB>sample<TAB>sample" rows,
# newest sample last. Filter $2 (a regex) restricts lines, e.g. the kernel's OOM lines.
match_signatures() {
  awk -v sigs="$SIGNATURES" -v cap="$CAP_SAMPLE" -v filter="${1:-}" '
    BEGIN {
      n = split(sigs, rows, "\n")
      for (i = 1; i <= n; i++) { split(rows[i], kv, "\t"); id[i] = kv[1]; text[i] = kv[2] }
    }
    {
      if (filter != "" && $0 !~ filter) next
      line = $0
      gsub(/\t/, " ", line)
      for (i = 1; i <= n; i++) {
        # A text starting with ~ is a regex (the 10255 port must not match pid=110255).
        if (substr(text[i], 1, 1) == "~" ? line ~ substr(text[i], 2) : index(line, text[i]) > 0) {
          count[i]++
          prev[i] = last[i]
          last[i] = substr(line, 1, cap)
        }
      }
    }
    END {
      for (i = 1; i <= n; i++) if (count[i] > 0) {
        out = id[i] "\t" count[i]
        if (count[i] > 1) out = out "\t" prev[i]
        print out "\t" last[i]
      }
    }'
}

SAMPLES_ON=1
SAMPLES_USED=0
# JSON array of LogMatch from match_signatures rows in $1.
log_matches_json() {
  local out="" row idv cnt rest sample samples
  while IFS= read -r row; do
    [[ -z $row ]] && continue
    idv=${row%%$'\t'*}
    rest=${row#*$'\t'}
    cnt=${rest%%$'\t'*}
    rest=${rest#*$'\t'}
    samples=""
    while [[ -n $rest ]] && ((SAMPLES_ON)); do
      sample=${rest%%$'\t'*}
      [[ $rest == *$'\t'* ]] && rest=${rest#*$'\t'} || rest=""
      json_str "$sample"
      if ((SAMPLES_USED + ${#REPLY} <= SAMPLE_BUDGET)); then
        samples+=${samples:+,}$REPLY
        SAMPLES_USED=$((SAMPLES_USED + ${#REPLY}))
      fi
    done
    out+="${out:+,}{\"id\":\"$idv\",\"count\":$cnt,\"samples\":[$samples]}"
  done <<<"${1:-}"
  REPLY="[$out]"
}

# Keep lines whose logrus `time="..."` (or leading ISO time) is within the window; others stay.
recent_lines() {
  local cutoff
  cutoff=$(date -u -d "-$1 min" +%Y-%m-%dT%H:%M:%S 2>/dev/null)
  awk -v c="$cutoff" '
    {
      t = ""
      # Explicit digits, not {n}: older mawk has no interval expressions.
      if (match($0, /time="[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/)) t = substr($0, RSTART + 6, 19)
      else if (match($0, /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/)) t = substr($0, RSTART, 19)
      if (c == "" || t == "" || t >= c) print
    }'
}

LOG_STATUS=ok
LOG_REASON=""
LOG_SOURCE=journal
ROWS_CTD=""
ROWS_KUBE=""
ROWS_KERN=""
OOM_FILTER='(containerd|shim)'
if late logs; then
  LOG_STATUS=unknown
  LOG_REASON=$LATE_REASON
elif [[ -n $LOG_FILE ]]; then
  LOG_SOURCE="file:$LOG_FILE"
  if [[ -r $LOG_FILE ]]; then
    lines=$(tmo 5 tail -n "$LOG_LINES" "$LOG_FILE" 2>/dev/null | recent_lines 30)
    ROWS_CTD=$(match_signatures <<<"$lines")
    ROWS_KUBE=$(grep -F kubelet <<<"$lines" | match_signatures)
  else
    LOG_STATUS=unknown
    LOG_REASON="log file not readable"
  fi
elif have journalctl && [[ -d /run/systemd/system || -d /run/log/journal || -d /var/log/journal ]]; then
  if ! tmo 5 journalctl -n 1 --no-pager -q >/dev/null 2>&1 ||
    [[ -z $(tmo 5 journalctl -n 1 --no-pager -q 2>/dev/null) ]]; then
    LOG_STATUS=unknown
    LOG_REASON="the systemd journal is empty or unreadable"
  fi
  # While containerd runs, only its current run's lines (systemd 232+ tags them with the unit's
  # InvocationID): a daemon a fix restarted is not judged by the errors of the run it replaced.
  # Down or restarting, the last half hour of the unit says why.
  ctd_scope=(-u containerd --since "-30min")
  if [[ $CTD_ACTIVE == active && $CTD_INVOCATION =~ ^[0-9a-f]{32}$ ]]; then
    ctd_scope=("_SYSTEMD_INVOCATION_ID=$CTD_INVOCATION")
  fi
  ROWS_CTD=$(tmo 5 journalctl "${ctd_scope[@]}" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures)
  ROWS_KUBE=$(tmo 5 journalctl -u kubelet --since "-30min" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures)
  ROWS_KERN=$(tmo 5 journalctl -k --since "-120min" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures "$OOM_FILTER")
else
  LOG_STATUS=unknown
  LOG_REASON="no systemd journal and no log file"
fi
# The kernel ring buffer, when the journal did not give it.
if [[ -z $ROWS_KERN ]] && have dmesg; then
  ROWS_KERN=$(tmo 5 dmesg 2>/dev/null | tail -n "$LOG_LINES" | match_signatures "$OOM_FILTER")
fi

build_logs_json() {
  SAMPLES_USED=0
  local ctd kube kern src
  log_matches_json "$ROWS_CTD"
  ctd=$REPLY
  log_matches_json "$ROWS_KUBE"
  kube=$REPLY
  log_matches_json "$ROWS_KERN"
  kern=$REPLY
  json_str "$LOG_SOURCE"
  src=$REPLY
  probe_head "$LOG_STATUS" "$LOG_REASON"
  LOGS_JSON="$REPLY,\"source\":$src,\"containerd\":$ctd,\"kubelet\":$kube,\"kernel\":$kern}"
}
build_logs_json

# --- disk ---------------------------------------------------------------------------------------
# Whether the mount holding $1 is read-only (longest mount-point prefix in /proc/mounts).
mount_read_only() {
  awk -v p="$1" '
    {
      m = $2
      gsub(/\\040/, " ", m)
      if (p == m || m == "/" || index(p, m "/") == 1) {
        if (length(m) > best) { best = length(m); split($4, o, ","); ro = (o[1] == "ro") }
      }
    }
    END { if (best) print (ro ? "true" : "false") }' /proc/mounts 2>/dev/null
}
mount_json() {
  local path=$1 exists=false use="" iuse="" avail="" ro="" out p r
  if [[ -e $path ]]; then
    exists=true
    out=$(tmo 5 df -P -k "$path" 2>/dev/null | awk 'NR == 2 { print $4 " " $5 }')
    avail=${out%% *}
    use=${out##* }
    use=${use%\%}
    out=$(tmo 5 df -P -i "$path" 2>/dev/null | awk 'NR == 2 { print $5 }')
    iuse=${out%\%}
    ro=$(mount_read_only "$(readlink -f "$path" 2>/dev/null || echo "$path")")
  fi
  json_str "$path"
  p=$REPLY
  json_num "$use"
  r="{\"path\":$p,\"exists\":$exists,\"usePct\":$REPLY"
  json_num "$iuse"
  r+=",\"inodesUsePct\":$REPLY"
  json_num "$avail"
  r+=",\"availKb\":$REPLY"
  json_bool "$ro"
  REPLY="$r,\"readOnly\":$REPLY}"
}
if late disk; then
  # The mounts' shape with every figure unread: the section says why.
  json_str "$ROOT_DIR"
  d_r=$REPLY
  json_str "$LATE_REASON"
  d_why=$REPLY
  DISK_JSON="{\"status\":\"unknown\",\"reason\":$d_why,\"root\":{\"path\":$d_r,\"exists\":false,\"usePct\":null,\"inodesUsePct\":null,\"availKb\":null,\"readOnly\":null}"
  json_str "$STATE_DIR"
  DISK_JSON+=",\"state\":{\"path\":$REPLY,\"exists\":false,\"usePct\":null,\"inodesUsePct\":null,\"availKb\":null,\"readOnly\":null}}"
else
  mount_json "$ROOT_DIR"
  disk_root=$REPLY
  mount_json "$STATE_DIR"
  DISK_JSON="{\"status\":\"ok\",\"root\":$disk_root,\"state\":$REPLY}"
fi

# --- kubelet ------------------------------------------------------------------------------------
KUBE_JSON=""
kube_installed=false
kube_state=""
kube_pid=""
if [[ $SYSTEMCTL_OK == true ]] && systemd_show kubelet LoadState,ActiveState,MainPID; then
  if [[ ${SHOW[LoadState]:-} != not-found && -n ${SHOW[LoadState]:-} ]]; then
    kube_installed=true
    kube_state=${SHOW[ActiveState]:-}
    [[ ${SHOW[MainPID]:-0} != 0 ]] && kube_pid=${SHOW[MainPID]}
  fi
fi
if [[ -z $kube_pid ]] && have pgrep; then
  kube_pid=$(tmo 5 pgrep -x -o kubelet 2>/dev/null)
fi
[[ -n $kube_pid ]] && kube_installed=true
have kubelet && kube_installed=true
if [[ $kube_installed != true ]] && late kubelet; then
  # Its probes were cut short: "not installed" would be a guess.
  json_str "$LATE_REASON"
  KUBE_JSON="{\"status\":\"unknown\",\"reason\":$REPLY}"
elif [[ $kube_installed != true ]]; then
  if [[ $SYSTEMD == true ]]; then
    KUBE_JSON='{"status":"n/a","reason":"kubelet is not installed on this machine (not a Kubernetes node)"}'
  else
    KUBE_JSON='{"status":"n/a","reason":"no systemd and no kubelet: not a Kubernetes node"}'
  fi
else
  healthz=""
  if have curl; then
    healthz=$(tmo 4 curl -s --max-time 2 http://127.0.0.1:10248/healthz 2>/dev/null)
  fi
  endpoint=""
  kcfg=""
  if [[ -n $kube_pid && -r /proc/$kube_pid/cmdline ]]; then
    mapfile -t kargv < <(tr '\0' '\n' <"/proc/$kube_pid/cmdline" 2>/dev/null)
    for ((i = 1; i < ${#kargv[@]}; i++)); do
      case ${kargv[i]} in
        --container-runtime-endpoint=*) endpoint=${kargv[i]#*=} ;;
        --container-runtime-endpoint) endpoint=${kargv[i + 1]:-} ;;
        --config=*) kcfg=${kargv[i]#*=} ;;
        --config) kcfg=${kargv[i + 1]:-} ;;
      esac
    done
  fi
  if [[ -z $endpoint ]]; then
    for f in "$kcfg" /etc/kubernetes/kubelet/config.json /etc/kubernetes/kubelet/config.yaml /var/lib/kubelet/config.yaml; do
      [[ -n $f && -r $f ]] || continue
      endpoint=$(sed -n 's/.*"\{0,1\}containerRuntimeEndpoint"\{0,1\}[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}]*\)"\{0,1\}.*/\1/p' "$f" | head -n 1)
      [[ -n $endpoint ]] && break
    done
  fi
  json_str_or_null "$kube_state"
  ks=$REPLY
  json_str_or_null "${healthz:0:100}"
  kh=$REPLY
  json_str_or_null "${endpoint:0:$CAP_LINE}"
  KUBE_JSON="{\"status\":\"ok\",\"activeState\":$ks,\"healthz\":$kh,\"runtimeEndpoint\":$REPLY}"
fi

# --- fds ----------------------------------------------------------------------------------------
read -r FILE_NR_ALLOC _ FILE_NR_MAX 2>/dev/null </proc/sys/fs/file-nr || true
json_num "${FILE_NR_ALLOC:-}"
sys_alloc=$REPLY
json_num "${FILE_NR_MAX:-}"
sys_max=$REPLY
if [[ -n $PID ]] && late fds; then
  json_str "$LATE_REASON"
  FDS_JSON="{\"status\":\"unknown\",\"reason\":$REPLY,\"open\":null,\"limitSoft\":null,\"limitHard\":null,\"systemAllocated\":$sys_alloc,\"systemMax\":$sys_max}"
elif [[ -n $PID ]]; then
  open=$(tmo 5 ls -U "/proc/$PID/fd" 2>/dev/null | wc -l)
  limits=$(awk '/^Max open files/ { print $4 " " $5 }' "/proc/$PID/limits" 2>/dev/null)
  soft=${limits%% *}
  hard=${limits##* }
  if [[ -z $limits ]]; then
    FDS_JSON="{\"status\":\"unknown\",\"reason\":\"cannot read /proc/$PID\",\"open\":null,\"limitSoft\":null,\"limitHard\":null,\"systemAllocated\":$sys_alloc,\"systemMax\":$sys_max}"
  else
    json_num "$open"
    o=$REPLY
    json_num "$soft"
    s=$REPLY
    json_num "$hard"
    FDS_JSON="{\"status\":\"ok\",\"open\":$o,\"limitSoft\":$s,\"limitHard\":$REPLY,\"systemAllocated\":$sys_alloc,\"systemMax\":$sys_max}"
  fi
else
  FDS_JSON="{\"status\":\"n/a\",\"reason\":\"containerd is not running\",\"open\":null,\"limitSoft\":null,\"limitHard\":null,\"systemAllocated\":$sys_alloc,\"systemMax\":$sys_max}"
fi

# --- images: the sandbox (pause) image in the CRI's namespace -------------------------------------
# Without it no pod sandbox starts; on EKS the CRI cannot pull it again (ECR needs credentials
# containerd does not hold), so the node keeps it locally (AL2023 imports /etc/eks/pause.tar).
pause_tar=null
if [[ -f $PAUSE_TAR ]]; then
  json_str "$PAUSE_TAR"
  pause_tar=$REPLY
fi
json_str_or_null "${SANDBOX_IMAGE:0:$CAP_LINE}"
img_sandbox=$REPLY
IMG_STATUS=unknown
IMG_REASON="the daemon did not answer ctr version"
img_total=null
img_present=null
if [[ $CALL_OK == true ]] && late images; then
  IMG_REASON=$LATE_REASON
elif [[ $CALL_OK == true ]]; then
  run_bounded 10 ctr --address "$ADDRESS" --connect-timeout 3s --timeout 7s -n k8s.io images ls -q
  if ((RUN_RC == 0)); then
    IMG_STATUS=ok
    IMG_REASON=""
    img_total=$(grep -c . <<<"$RUN_OUT")
    if [[ -n $SANDBOX_IMAGE ]]; then
      img_present=false
      # ctr lists full references; a short docker.io name may have been written without its prefix.
      short=${SANDBOX_IMAGE#docker.io/}
      short=${short#library/}
      while IFS= read -r ref; do
        r=${ref#docker.io/}
        r=${r#library/}
        [[ $ref == "$SANDBOX_IMAGE" || $r == "$short" ]] && img_present=true && break
      done <<<"$RUN_OUT"
    fi
  else
    first_lines "$RUN_OUT"
    IMG_REASON="ctr images ls failed: $REPLY"
    ((RUN_RC == 124 || RUN_RC == 137)) && IMG_REASON="ctr images ls timed out after ${RUN_BOUND}s"
  fi
fi
probe_head "$IMG_STATUS" "$IMG_REASON"
IMAGES_JSON="$REPLY,\"namespace\":\"k8s.io\",\"total\":$img_total,\"sandboxImage\":$img_sandbox,\"sandboxPresent\":$img_present,\"pauseTar\":$pause_tar}"

# --- shims and runc: stopped (T) or stuck in the kernel (D) ---------------------------------------
# States from /proc/PID/stat (it never blocks); each cmdline read is bounded (a D-state process
# can block it).
PROC_STATUS=ok
PROC_REASON=""
shims=0
stuck=""
shim_ns=""
if late processes; then
  PROC_STATUS=unknown
  PROC_REASON=$LATE_REASON
else
  for f in /proc/[0-9]*/stat; do
    { read -r st <"$f"; } 2>/dev/null || continue
    comm=${st#*(}
    comm=${comm%)*}
    # comm is cut at 15 characters: containerd-shim-runc-v2 reads `containerd-shim`.
    [[ $comm == containerd-shim* || $comm == runc ]] || continue
    p=${f#/proc/}
    p=${p%/stat}
    rest=${st##*) }
    state=${rest:0:1}
    # Only this daemon's: its shims carry `-address ADDRESS`, its runc calls name bundles under
    # STATE_DIR (other daemons on the machine, e.g. in containers, are not this node's runtime).
    # An unreadable cmdline of a stuck process is kept: it cannot be told apart, so it is reported.
    cmd=$(tmo 2 tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
    if [[ -n $cmd ]]; then
      if [[ $comm == containerd-shim* ]]; then
        [[ " $cmd" == *" -address $ADDRESS "* ]] || continue
      else
        [[ $cmd == *"$STATE_DIR/"* ]] || continue
      fi
    elif [[ $state != [TtD] ]]; then
      continue
    fi
    if [[ $comm == containerd-shim* ]]; then
      ((shims++))
      ns=$(sed -n 's/.*-namespace \([^ ]*\).*/\1/p' <<<"$cmd")
      [[ -n $ns && $'\n'$shim_ns$'\n' != *$'\n'$ns$'\n'* ]] && shim_ns+=${shim_ns:+$'\n'}$ns
    fi
    if [[ $state == [TtD] ]] && (($(grep -c . <<<"$stuck") < 5)); then
      json_str "${cmd:0:160}"
      c=$REPLY
      json_str "$comm"
      stuck+=${stuck:+$'\n'}"{\"pid\":$p,\"state\":\"$state\",\"comm\":$REPLY,\"cmd\":$c}"
    fi
  done
fi
stuck_json=$(tr '\n' ',' <<<"$stuck" | sed 's/,$//')
# Tasks the daemon answers for, per namespace its shims serve (at most 3): a shim that no longer
# answers makes `ctr tasks ls` time out while `ctr version` still answers.
tasks_json=""
if [[ $PROC_STATUS == ok && $CALL_OK == true ]]; then
  while IFS= read -r ns; do
    [[ -z $ns ]] && continue
    [[ $ns =~ ^[A-Za-z0-9._-]{1,60}$ ]] || continue
    late tasks && break
    run_bounded 10 ctr --address "$ADDRESS" --connect-timeout 3s --timeout 7s -n "$ns" tasks ls
    call_result
    t=$REPLY
    n=null
    unk=""
    if ((RUN_RC == 0)); then
      n=$(awk 'NR > 1 && NF >= 3 { c++ } END { print c + 0 }' <<<"$RUN_OUT")
      # A task whose shim does not answer is listed with PID 0 and STATUS UNKNOWN.
      unk=$(awk 'NR > 1 && NF >= 3 && $3 == "UNKNOWN" { print $1 }' <<<"$RUN_OUT")
    fi
    json_str_array "$unk" 80 5
    tasks_json+="${tasks_json:+,}{\"namespace\":\"$ns\",\"tasks\":$n,\"unknown\":$REPLY,\"call\":$t}"
  done < <(head -n 3 <<<"$shim_ns")
fi
probe_head "$PROC_STATUS" "$PROC_REASON"
PROCS_JSON="$REPLY,\"shims\":$shims,\"stuck\":[$stuck_json],\"tasks\":[$tasks_json]}"

# --- drain: can this node cordon and drain itself? ----------------------------------------------
# The fixes that drain use kubectl with an admin kubeconfig (the same list as the fix scripts);
# stock EKS nodes have neither, and kubelet's own credentials cannot evict pods.
kubeconfig=""
for k in "${KUBECONFIG:-}" /etc/kubernetes/admin.conf /root/.kube/config; do
  [[ -n $k && -r $k ]] && kubeconfig=$k && break
done
json_bool "$(have kubectl && echo true || echo false)"
d_kubectl=$REPLY
json_str_or_null "${kubeconfig:0:$CAP_LINE}"
DRAIN_JSON="{\"status\":\"ok\",\"kubectl\":$d_kubectl,\"kubeconfig\":$REPLY}"

# --- resources ----------------------------------------------------------------------------------
psi_json() {
  local f=/proc/pressure/$1
  if [[ ! -r $f ]]; then
    REPLY=null
    return
  fi
  local some10 some60 full10 full60 kind rest
  while read -r kind rest; do
    [[ $rest =~ avg10=([0-9.]+)\ avg60=([0-9.]+) ]] || continue
    if [[ $kind == some ]]; then some10=${BASH_REMATCH[1]} some60=${BASH_REMATCH[2]}; fi
    if [[ $kind == full ]]; then full10=${BASH_REMATCH[1]} full60=${BASH_REMATCH[2]}; fi
  done <"$f" 2>/dev/null
  local r
  json_num "${some10:-}"
  r="{\"some10\":$REPLY"
  json_num "${some60:-}"
  r+=",\"some60\":$REPLY"
  if [[ -n ${full10:-} ]]; then
    json_num "$full10"
    r+=",\"full10\":$REPLY"
    json_num "${full60:-}"
    r+=",\"full60\":$REPLY"
  fi
  REPLY="$r}"
}
build_resources_json() {
  local cores load1 load5 mt ma r cpu mem io steal="" s2 t1 t2 st1 st2
  cores=$(nproc 2>/dev/null || grep -c '^processor' /proc/cpuinfo 2>/dev/null)
  read -r load1 load5 _ 2>/dev/null </proc/loadavg
  mt=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null)
  ma=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null)
  s2=$(cpu_sample)
  if [[ -n $CPU_SAMPLE1 && -n $s2 ]]; then
    read -r t1 st1 <<<"$CPU_SAMPLE1"
    read -r t2 st2 <<<"$s2"
    if ((t2 > t1)); then
      steal=$(awk -v a="$((st2 - st1))" -v b="$((t2 - t1))" 'BEGIN { printf "%.1f", 100 * a / b }')
    fi
  fi
  psi_json cpu
  cpu=$REPLY
  psi_json memory
  mem=$REPLY
  psi_json io
  io=$REPLY
  json_num "$cores"
  r="{\"status\":\"ok\",\"cores\":$REPLY"
  json_num "${load1:-}"
  r+=",\"load1\":$REPLY"
  json_num "${load5:-}"
  r+=",\"load5\":$REPLY"
  json_num "$mt"
  r+=",\"memTotalKb\":$REPLY"
  json_num "$ma"
  r+=",\"memAvailableKb\":$REPLY,\"psi\":{\"cpu\":$cpu,\"memory\":$mem,\"io\":$io}"
  json_num "$steal"
  RES_JSON="$r,\"stealPct\":$REPLY}"
}

# --- the document ---------------------------------------------------------------------------------
json_str_or_null "$PID"
[[ $REPLY == null ]] || REPLY=$PID
ctd_pid=$REPLY
json_str_or_null "$BINARY_VERSION"
ctd_bin=$REPLY
json_str_or_null "$SERVER_VERSION"
CTD_JSON="{\"status\":\"ok\",\"service\":$SVC_JSON,\"pid\":$ctd_pid,\"pidSource\":\"$PID_SOURCE\",\"binaryVersion\":$ctd_bin,\"serverVersion\":$REPLY}"

json_str "$ADDRESS"
sock_path=$REPLY
json_str_or_null "$SOCK_MODE"
sock_mode=$REPLY
json_str_or_null "$SOCK_OWNER"
sock_owner=$REPLY
probe_head "$SOCK_STATUS" "$SOCK_REASON"
SOCK_JSON="$REPLY,\"path\":$sock_path,\"exists\":$SOCK_EXISTS,\"isSocket\":$SOCK_IS,\"mode\":$sock_mode,\"owner\":$sock_owner,\"call\":$CALL_JSON}"

json_str "$ROOT_DIR"
p_root=$REPLY
json_str "$STATE_DIR"
p_state=$REPLY
json_str "$ADDRESS"
p_addr=$REPLY
json_str "$CONFIG"
p_cfg=$REPLY
json_str_or_null "$LOG_FILE"
PATHS_JSON="{\"address\":$p_addr,\"config\":$p_cfg,\"root\":$p_root,\"state\":$p_state,\"logFile\":$REPLY}"

json_str "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null)"
host=$REPLY
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

assemble() {
  build_resources_json
  local elapsed=$(($(now_ms) - START_MS))
  json_str_array "$UNFINISHED" 40
  DOC="{\"schema\":1,\"script\":{\"version\":\"$SCRIPT_VERSION\",\"host\":$host,\"time\":\"$now\",\"elapsedMs\":$elapsed,\"deadlineMs\":$((DEADLINE_S * 1000)),\"unfinished\":$REPLY}"
  DOC+=",\"paths\":$PATHS_JSON,\"systemd\":$SYSTEMD,\"containerd\":$CTD_JSON,\"fds\":$FDS_JSON"
  DOC+=",\"socket\":$SOCK_JSON,\"plugins\":$PLUG_JSON,\"config\":$CFG_JSON,\"logs\":$LOGS_JSON"
  DOC+=",\"resources\":$RES_JSON,\"disk\":$DISK_JSON,\"kubelet\":$KUBE_JSON"
  DOC+=",\"host\":$HOST_JSON,\"images\":$IMAGES_JSON,\"processes\":$PROCS_JSON,\"drain\":$DRAIN_JSON}"
}
assemble
if ((${#DOC} > DOC_LIMIT)); then
  # Whatever the node holds, stay under the cap: drop the log samples, keep the counts.
  SAMPLES_ON=0
  build_logs_json
  assemble
fi
printf '%s\n' "$DOC"
exit 0
