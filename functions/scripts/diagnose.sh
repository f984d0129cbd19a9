#!/usr/bin/env bash
# nodemedic diagnose: read-only facts about containerd on this node, as ONE compact JSON document
# on stdout (the `Facts` contract in functions/core/facts.ts, schema 1).
#
# The single source of truth: the SSM document embeds these exact bytes, the CLI and the local
# shell runner run this same file. Runs as root on Amazon Linux 2, AL2023 and Ubuntu with bash 4+,
# coreutils, util-linux and procps only (no jq, no python). It changes nothing on the node.
#
# Every external call is bounded by `timeout`, and the calls that can hang on a wedged daemon
# (`ctr`) also carry their own dial/request timeouts, so a whole run stays around 15 s at worst.
# A probe that fails says `unknown` with a reason; the document is valid JSON whatever happens and
# stays well under SSM's 24,000-character stdout cap. Exit 0 whenever the document was printed.
#
# Overrides (empty means the default), validated upstream against script-params.ts patterns:
#   NODEMEDIC_ADDRESS     containerd's socket            (/run/containerd/containerd.sock)
#   NODEMEDIC_CONFIG      containerd's config            (/etc/containerd/config.toml)
#   NODEMEDIC_ROOT        containerd's root dir          (/var/lib/containerd)
#   NODEMEDIC_STATE       containerd's state dir         (/run/containerd)
#   NODEMEDIC_LOG_FILE    read log lines from this file instead of the journal
# No `set -e`/`set -u`: a probe that trips must leave its section `unknown`, never kill the run
# before the document is printed.
export LC_ALL=C
# SSM's AWS-RunShellScript may run with a short PATH; keep the caller's first (the sandbox's
# systemctl stand-in comes first locally), then the usual system dirs.
export PATH="${PATH:-}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SCRIPT_VERSION=1.0.0
DEFAULT_CONFIG=/etc/containerd/config.toml
ADDRESS=${NODEMEDIC_ADDRESS:-/run/containerd/containerd.sock}
CONFIG=${NODEMEDIC_CONFIG:-$DEFAULT_CONFIG}
ROOT_DIR=${NODEMEDIC_ROOT:-/var/lib/containerd}
STATE_DIR=${NODEMEDIC_STATE:-/run/containerd}
LOG_FILE=${NODEMEDIC_LOG_FILE:-}

# Caps that keep the document small whatever the node holds.
CAP_ERROR=300       # CallResult.error, parse errors
CAP_SAMPLE=300      # one log sample line
CAP_LINE=200        # a config line
CAP_LIST=20         # entries in any list
LOG_LINES=5000      # log lines read per source
SAMPLE_BUDGET=9000  # JSON characters of log samples in all
DOC_LIMIT=19000     # beyond this, samples are dropped (the counts stay)

# Log signatures: id<TAB>fixed text. Ids EXACTLY as LOG_SIGNATURES in functions/core/facts.ts.
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
read-only-port	10255
oom-kill	Out of memory: Killed process'

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

# A JSON array of strings from the lines of $1 (at most CAP_LIST, each capped at $2 bytes).
json_str_array() {
  local out="" line n=0 cap=${2:-$CAP_LINE}
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    ((n >= CAP_LIST)) && break
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
run_bounded() {
  local secs=$1 t0
  shift
  t0=$(now_ms)
  RUN_OUT=$(timeout -k 2 "$secs" "$@" 2>&1)
  RUN_RC=$?
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
    ((RUN_RC == 124 || RUN_RC == 137)) && err="timed out after ${1}s${err:+: $err}"
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
if have systemctl && systemd_show containerd LoadState,ActiveState,SubState,NRestarts,MainPID &&
  [[ ${SHOW[MainPID]:-} =~ ^[0-9]+$ ]]; then
  SYSTEMCTL_OK=true
  CTD_SHOWN=true
fi
if [[ -d /run/systemd/system || $SYSTEMCTL_OK == true ]]; then SYSTEMD=true; fi

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
    done < <(timeout 5 pgrep -x containerd 2>/dev/null)
  fi
  inode=""
  for p in "${candidates[@]}"; do
    if [[ $(process_config "$p") == "$CONFIG" ]]; then PID=$p && break; fi
  done
  if [[ -z $PID && ${#candidates[@]} -gt 0 ]]; then
    inode=$(socket_inode)
    if [[ -n $inode ]]; then
      for p in "${candidates[@]}"; do
        if timeout 5 find "/proc/$p/fd" -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
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
  SOCK_MODE=$(timeout 5 stat -c %a "$ADDRESS" 2>/dev/null)
  SOCK_OWNER=$(timeout 5 stat -c %U:%G "$ADDRESS" 2>/dev/null)
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
PLUG_JSON='{"status":"unknown","reason":"the daemon did not answer ctr version","total":null,"errored":[]}'
if [[ $SOCK_IS != true ]]; then
  PLUG_JSON='{"status":"unknown","reason":"no socket at the address","total":null,"errored":[]}'
elif [[ $CALL_OK == true ]]; then
  # The daemon just answered: a shorter bound keeps the whole run near 15 s if it wedges now.
  run_bounded 10 ctr --address "$ADDRESS" --connect-timeout 3s --timeout 7s plugins ls
  if ((RUN_RC == 0)); then
    total=$(awk 'NR > 1 && NF >= 4 { n++ } END { print n + 0 }' <<<"$RUN_OUT")
    # bolt and CRI first: they are the ones that matter, and the list is capped.
    errored=$(awk 'NR > 1 && NF >= 4 && $NF == "error" { print $1 "/" $2 }' <<<"$RUN_OUT" |
      awk '/metadata\.v1\/bolt$|grpc\.v1\/cri$/ { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }')
    json_str_array "$errored" 200
    PLUG_JSON="{\"status\":\"ok\",\"total\":$total,\"errored\":$REPLY}"
  else
    first_lines "$(grep -E -i 'error|fail|ctr:' <<<"$RUN_OUT")"
    ((RUN_RC == 124 || RUN_RC == 137)) && REPLY="timed out after 10s"
    json_str "ctr plugins ls failed: ${REPLY:-exit code $RUN_RC}"
    PLUG_JSON="{\"status\":\"unknown\",\"reason\":$REPLY,\"total\":null,\"errored\":[]}"
  fi
fi

# --- config -------------------------------------------------------------------------------------
CFG_EXISTS=false
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
  if have containerd; then
    # containerd's own loader is the only parser that agrees with containerd.
    run_bounded 10 containerd --config "$CONFIG" config dump
    if ((RUN_RC == 0)); then
      CFG_PARSES=true
    elif ((RUN_RC == 124 || RUN_RC == 137)); then
      CFG_STATUS=unknown
      CFG_REASON="containerd config dump timed out"
    else
      CFG_PARSES=false
      perr=$(grep -m1 -E 'failed to load TOML|toml|config' <<<"$RUN_OUT")
      [[ -z $perr ]] && perr=$(sed '/^[[:space:]]*$/d' <<<"$RUN_OUT" | tail -n 1)
      perr=${perr#containerd: }
      json_str "${perr:0:$CAP_ERROR}"
      CFG_EXTRA+=",\"parseError\":$REPLY"
      if [[ $perr =~ \(([0-9]+),\ *([0-9]+)\) ]]; then
        eline=${BASH_REMATCH[1]}
        efile=$CONFIG
        # The error names the file it failed in (maybe an import).
        if [[ $perr =~ TOML\ from\ ([^:]+): || $perr =~ TOML:\ ([^:]+): ]] && [[ -f ${BASH_REMATCH[1]} ]]; then
          efile=${BASH_REMATCH[1]}
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
        if (index(line, text[i]) > 0) {
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
if [[ -n $LOG_FILE ]]; then
  LOG_SOURCE="file:$LOG_FILE"
  if [[ -r $LOG_FILE ]]; then
    lines=$(timeout 5 tail -n "$LOG_LINES" "$LOG_FILE" 2>/dev/null | recent_lines 30)
    ROWS_CTD=$(match_signatures <<<"$lines")
    ROWS_KUBE=$(grep -F kubelet <<<"$lines" | match_signatures)
  else
    LOG_STATUS=unknown
    LOG_REASON="log file not readable"
  fi
elif have journalctl && [[ -d /run/systemd/system || -d /run/log/journal || -d /var/log/journal ]]; then
  if ! timeout 5 journalctl -n 1 --no-pager -q >/dev/null 2>&1 ||
    [[ -z $(timeout 5 journalctl -n 1 --no-pager -q 2>/dev/null) ]]; then
    LOG_STATUS=unknown
    LOG_REASON="the systemd journal is empty or unreadable"
  fi
  ROWS_CTD=$(timeout 5 journalctl -u containerd --since "-30min" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures)
  ROWS_KUBE=$(timeout 5 journalctl -u kubelet --since "-30min" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures)
  ROWS_KERN=$(timeout 5 journalctl -k --since "-120min" -n "$LOG_LINES" --no-pager -o cat 2>/dev/null | match_signatures "$OOM_FILTER")
else
  LOG_STATUS=unknown
  LOG_REASON="no systemd journal and no log file"
fi
# The kernel ring buffer, when the journal did not give it.
if [[ -z $ROWS_KERN ]] && have dmesg; then
  ROWS_KERN=$(timeout 5 dmesg 2>/dev/null | tail -n "$LOG_LINES" | match_signatures "$OOM_FILTER")
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
    out=$(timeout 5 df -P -k "$path" 2>/dev/null | awk 'NR == 2 { print $4 " " $5 }')
    avail=${out%% *}
    use=${out##* }
    use=${use%\%}
    out=$(timeout 5 df -P -i "$path" 2>/dev/null | awk 'NR == 2 { print $5 }')
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
mount_json "$ROOT_DIR"
disk_root=$REPLY
mount_json "$STATE_DIR"
DISK_JSON="{\"status\":\"ok\",\"root\":$disk_root,\"state\":$REPLY}"

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
  kube_pid=$(timeout 5 pgrep -x -o kubelet 2>/dev/null)
fi
[[ -n $kube_pid ]] && kube_installed=true
have kubelet && kube_installed=true
if [[ $kube_installed != true ]]; then
  if [[ $SYSTEMD == true ]]; then
    KUBE_JSON='{"status":"n/a","reason":"kubelet is not installed on this machine (not a Kubernetes node)"}'
  else
    KUBE_JSON='{"status":"n/a","reason":"no systemd and no kubelet: not a Kubernetes node"}'
  fi
else
  healthz=""
  if have curl; then
    healthz=$(timeout 4 curl -s --max-time 2 http://127.0.0.1:10248/healthz 2>/dev/null)
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
if [[ -n $PID ]]; then
  open=$(timeout 5 ls -U "/proc/$PID/fd" 2>/dev/null | wc -l)
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
  DOC="{\"schema\":1,\"script\":{\"version\":\"$SCRIPT_VERSION\",\"host\":$host,\"time\":\"$now\",\"elapsedMs\":$elapsed}"
  DOC+=",\"paths\":$PATHS_JSON,\"systemd\":$SYSTEMD,\"containerd\":$CTD_JSON,\"fds\":$FDS_JSON"
  DOC+=",\"socket\":$SOCK_JSON,\"plugins\":$PLUG_JSON,\"config\":$CFG_JSON,\"logs\":$LOGS_JSON"
  DOC+=",\"resources\":$RES_JSON,\"disk\":$DISK_JSON,\"kubelet\":$KUBE_JSON}"
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
