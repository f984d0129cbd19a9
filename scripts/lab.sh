#!/usr/bin/env bash
# nodemedic's node lab: Debian nodes booted with systemd as PID 1 and containerd as a systemd unit,
# in containers (systemd-nspawn), so the diagnosis and the fixes run against real systemd and the
# containerd each distribution ships:
#   bookworm  containerd 1.6, systemd 252
#   trixie    containerd 1.7
#   sid       containerd 2.x
#
#   lab.sh build [SUITE...]             build (or reuse) the cached root filesystems
#   lab.sh path SUITE                   print a suite's cached root (builds it when missing)
#   lab.sh start SUITE NAME [--bind-ro HOST:NODE]...
#                                       boot a node; prints the pid of its PID 1 once containerd answers
#   lab.sh exec NAME -- CMD [ARG...]    run a command inside the node (all its namespaces)
#   lab.sh stop NAME | --all            power a node off and remove everything it made
#   lab.sh list                         the running nodes: NAME SUITE PID1
#
# This script owns every process, mount and cgroup of the lab and removes them at stop:
#   - images:  $NODEMEDIC_LAB_CACHE (/var/cache/nodemedic-lab)/<suite>-<key>/root, keyed by the
#              suite, the package list and the customize hook, so a change of either rebuilds;
#   - nodes:   $NODEMEDIC_LAB_RUN (/run/nodemedic-lab)/<name>/ (nspawn pid, PID 1, console log),
#              a cgroup of its own in each v1 hierarchy nspawn uses and in the unified one, and
#              `--volatile=overlay` so every boot starts from the clean cached root and nothing a
#              test writes survives. /var/lib is a tmpfs of its own (dpkg's database bound in
#              read-only): containerd's overlayfs snapshotter cannot stack on the overlay root, and
#              its root dir stays a plain directory, as on a node's disk (reset-state moves it).
# Packages come from mmdebstrap's own apt configuration for the suite: the host's apt sources are
# never read or changed. Needs root, systemd-container and mmdebstrap (scripts/setup.sh --lab).
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
CACHE=${NODEMEDIC_LAB_CACHE:-/var/cache/nodemedic-lab}
RUN=${NODEMEDIC_LAB_RUN:-/run/nodemedic-lab}
MIRROR=${NODEMEDIC_LAB_MIRROR:-http://deb.debian.org/debian}
SUITES=(bookworm trixie sid)
# What a node needs: systemd as PID 1, containerd and runc, the tools diagnose.sh and the fixes
# use (coreutils, util-linux's prlimit, procps' pgrep), and busybox-static for a tiny local image.
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,util-linux,procps,iproute2,ca-certificates,busybox-static
# Cgroup hierarchies a node gets a cgroup of its own in (those present on this machine).
CGROUP_ROOTS=(/sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup)
NAME_RE='^[a-z][a-z0-9-]{0,30}$'

die() {
  echo "lab: $*" >&2
  exit 2
}

need_root() { ((EUID == 0)) || die "run as root: systemd-nspawn, mounts and cgroups need it"; }

known_suite() {
  local s
  for s in "${SUITES[@]}"; do [[ $1 == "$s" ]] && return 0; done
  die "unknown suite '$1' (expected one of: ${SUITES[*]})"
}

valid_name() { [[ $1 =~ $NAME_RE ]] || die "invalid node name '$1' (lowercase letters, digits, '-', up to 31)"; }

# --- images ------------------------------------------------------------------------------------

# Writes an OCI image layout tarball holding busybox (from the root being built) as REF, to OUT.
# No registry involved: `ctr images import` reads it. Runs on the host, against the new root.
oci_busybox_tar() {
  local root=$1 ref=$2 out=$3 work layer config manifest d
  work=$(mktemp -d)
  mkdir -p "$work/rootfs/bin" "$work/blobs/sha256"
  cp "$root/bin/busybox" "$work/rootfs/bin/busybox"
  for d in sh sleep true; do ln -s busybox "$work/rootfs/bin/$d"; done
  ln -s bin/busybox "$work/rootfs/pause"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/rootfs" -cf "$work/layer.tar" .
  layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mv "$work/layer.tar" "$work/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sleep"],"Cmd":["3600"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$layer" >"$work/config.json"
  config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$config" "$(stat -c %s "$work/config.json")" "$layer" "$(stat -c %s "$work/blobs/sha256/$layer")" >"$work/manifest.json"
  mv "$work/config.json" "$work/blobs/sha256/$config"
  manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(stat -c %s "$work/manifest.json")" "$ref" "${ref##*:}" >"$work/index.json"
  mv "$work/manifest.json" "$work/blobs/sha256/$manifest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  mkdir -p "$(dirname "$out")"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$out" oci-layout index.json blobs
  rm -rf "$work"
}

# mmdebstrap's customize hook ($1 = the new root). Its text is part of the cache key.
customize_root() {
  local root=$1 sandbox
  # A node has a machine id and a hostname; an empty machine-id makes systemd create one per boot.
  : >"$root/etc/machine-id"
  echo nodemedic-lab >"$root/etc/hostname"
  # No login prompt on the read-only console; nothing in the lab logs in.
  chroot "$root" systemctl mask console-getty.service getty@.service serial-getty@.service \
    systemd-networkd-wait-online.service >/dev/null 2>&1 || true
  # The sandbox (pause) image this containerd's CRI names by default, as a local tarball where an
  # EKS AMI keeps one (/etc/eks/pause.tar), and a busybox image for tasks the faults run.
  sandbox=$(chroot "$root" containerd config default 2>/dev/null |
    sed -nE "s/^[[:space:]]*sandbox(_image)?[[:space:]]*=[[:space:]]*[\"']([^\"']+)[\"'].*/\\2/p" | head -n1)
  [[ -n $sandbox ]] || { echo "lab: no sandbox image in this containerd's default config" >&2; return 1; }
  echo "$sandbox" >"$root/etc/nodemedic-lab-sandbox-image"
  oci_busybox_tar "$root" "$sandbox" "$root/etc/eks/pause.tar"
  oci_busybox_tar "$root" nodemedic.local/busybox:1 "$root/opt/nodemedic-lab/busybox.tar"
  # The journal persists across restarts within a boot (volatile overlay drops it at stop).
  mkdir -p "$root/var/log/journal"
}

# The cache key: suite, packages and the image recipe (this hook and the tarball writer).
image_key() {
  { echo "$1" "$PACKAGES"; declare -f customize_root oci_busybox_tar; } | sha256sum | cut -c1-12
}

image_dir() { echo "$CACHE/$1-$(image_key "$1")"; }

build_one() {
  local suite=$1 dir tmp start
  dir=$(image_dir "$suite")
  if [[ -f $dir/ready ]]; then
    echo "lab: $suite image cached at $dir ($(du -sh "$dir/root" | cut -f1))"
    return 0
  fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (bash scripts/setup.sh --lab)"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "$CACHE/.build-$suite-XXXXXX")
  start=$(date +%s)
  echo "lab: building the $suite image (mmdebstrap --variant=minbase, $PACKAGES)"
  # The hook runs this script again (mmdebstrap runs hooks with sh, which has no bash functions).
  # Valid-Until off: a mirror or proxy that lags behind serves sid Release files that expired a few
  # days ago, and the lab's images do not need the newest security state, only the suite's packages.
  if ! mmdebstrap --variant=minbase --include="$PACKAGES" --aptopt='Acquire::Check-Valid-Until "false"' \
    --customize-hook="bash $(printf %q "$SELF") _customize \"\$1\"" \
    "$suite" "$tmp/root" "$MIRROR" >"$tmp/build.log" 2>&1; then
    tail -n 20 "$tmp/build.log" >&2
    rm -rf "$tmp"
    die "mmdebstrap failed for $suite"
  fi
  # dpkg's database, outside the root: a node's /var/lib is a tmpfs that hides the root's own copy.
  cp -a "$tmp/root/var/lib/dpkg" "$tmp/dpkg"
  chroot "$tmp/root" containerd --version >"$tmp/containerd-version"
  chroot "$tmp/root" dpkg-query -W -f='${Version}\n' systemd >"$tmp/systemd-version"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  touch "$dir/ready"
  echo "lab: built $suite in $(($(date +%s) - start)) s: $(cat "$dir/containerd-version"), systemd $(cat "$dir/systemd-version"), $(du -sh "$dir/root" | cut -f1)"
  # Older images of this suite (another key) are stale.
  local old
  for old in "$CACHE/$suite"-*; do
    [[ $old == "$dir" || ! -d $old ]] || rm -rf "$old"
  done
}

cmd_build() {
  need_root
  (($#)) || set -- "${SUITES[@]}"
  local s
  for s in "$@"; do known_suite "$s"; done
  mkdir -p "$CACHE"
  # One builder at a time (parallel test workers, CI and a person may all ask).
  exec 9>"$CACHE/.lock"
  flock 9
  for s in "$@"; do build_one "$s"; done
  exec 9>&-
}

# --- nodes -------------------------------------------------------------------------------------

node_dir() { echo "$RUN/$1"; }

# The node's PID 1 (systemd) on the host: nspawn's child whose pid in its own namespace is 1.
find_leader() {
  local nspawn=$1 child ns
  for child in $(cat "/proc/$nspawn/task/$nspawn/children" 2>/dev/null); do
    ns=$(awk '/^NSpid:/ { print $NF }' "/proc/$child/status" 2>/dev/null) || continue
    [[ $ns == 1 ]] && { echo "$child"; return 0; }
  done
  return 1
}

leader_of() {
  local dir pid
  dir=$(node_dir "$1")
  [[ -f $dir/leader ]] || die "no running node '$1' (lab.sh list)"
  pid=$(<"$dir/leader")
  [[ -d /proc/$pid ]] || die "node '$1' is gone (its PID 1 $pid ended; lab.sh stop $1 cleans up)"
  echo "$pid"
}

in_node() {
  local pid=$1
  shift
  nsenter -t "$pid" -a -- "$@"
}

cmd_start() {
  need_root
  (($# >= 2)) || die "usage: lab.sh start SUITE NAME [--bind-ro HOST:NODE]..."
  local suite=$1 name=$2 dir root binds=() cg nspawn leader i state
  shift 2
  known_suite "$suite"
  valid_name "$name"
  while (($#)); do
    case $1 in
      --bind-ro)
        [[ ${2:-} == /*:/* ]] || die "--bind-ro needs HOST:NODE, two absolute paths"
        [[ -e ${2%%:*} ]] || die "--bind-ro: no such path ${2%%:*}"
        binds+=("--bind-ro=$2")
        shift 2
        ;;
      *) die "unknown start option '$1'" ;;
    esac
  done
  command -v systemd-nspawn >/dev/null || die "systemd-nspawn is missing (bash scripts/setup.sh --lab)"
  root=$(image_dir "$suite")/root
  [[ -f $(image_dir "$suite")/ready ]] || cmd_build "$suite"
  [[ -d $(image_dir "$suite")/dpkg ]] || die "the $suite image has no dpkg copy: rebuild it (rm -rf $(image_dir "$suite"); lab.sh build $suite)"
  dir=$(node_dir "$name")
  [[ ! -e $dir ]] || die "node '$name' exists already (lab.sh stop $name)"
  mkdir -p "$dir"
  echo "$suite" >"$dir/suite"
  # A cgroup of the node's own in each hierarchy: nspawn --keep-unit runs in it, and stop removes
  # it with the supervisor/payload cgroups nspawn leaves behind.
  for cg in "${CGROUP_ROOTS[@]}"; do
    [[ -f $cg/cgroup.procs ]] || continue
    mkdir -p "$cg/nodemedic-lab/$name"
    echo "$cg/nodemedic-lab/$name" >>"$dir/cgroups"
  done
  (
    while read -r cg; do echo "$BASHPID" >"$cg/cgroup.procs"; done <"$dir/cgroups"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec setsid systemd-nspawn --quiet -D "$root" -M "$name" --boot --register=no --keep-unit \
      --private-network --volatile=overlay --console=read-only "${binds[@]}" \
      --tmpfs=/var/lib:mode=0755 --bind-ro="$(image_dir "$suite")/dpkg:/var/lib/dpkg" --system-call-filter='@keyring bpf' \
      </dev/null >"$dir/console.log" 2>&1
  ) &
  nspawn=$!
  echo "$nspawn" >"$dir/nspawn"
  # Bounded waits: PID 1, then systemd settled, then containerd answering.
  for ((i = 0; i < 200; i++)); do
    leader=$(find_leader "$nspawn") && break
    kill -0 "$nspawn" 2>/dev/null || { tail -n 20 "$dir/console.log" >&2; cmd_stop "$name"; die "node '$name' did not boot"; }
    sleep 0.05
  done
  [[ -n ${leader:-} ]] || { cmd_stop "$name"; die "node '$name': no PID 1 after 10 s"; }
  echo "$leader" >"$dir/leader"
  for ((i = 0; i < 300; i++)); do
    state=$(in_node "$leader" systemctl is-system-running 2>/dev/null) || true
    [[ $state == running || $state == degraded ]] && break
    sleep 0.1
  done
  for ((i = 0; i < 300; i++)); do
    in_node "$leader" timeout 5 ctr version >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! in_node "$leader" timeout 5 ctr version >/dev/null 2>&1; then
    in_node "$leader" journalctl -u containerd --no-pager -n 20 >&2 || true
    cmd_stop "$name"
    die "node '$name': containerd does not answer after boot"
  fi
  # As an EKS AMI does at boot: the sandbox image from its local tarball into the CRI namespace.
  in_node "$leader" timeout 60 ctr -n k8s.io images import /etc/eks/pause.tar >/dev/null
  echo "$leader"
}

cmd_exec() {
  (($# >= 3)) && [[ $2 == -- ]] || die "usage: lab.sh exec NAME -- CMD [ARG...]"
  local name=$1 pid
  valid_name "$name"
  pid=$(leader_of "$name")
  shift 2
  in_node "$pid" "$@"
}

# Removes a cgroup and every empty cgroup below it, deepest first.
remove_cgroup() {
  local cg=$1
  [[ -d $cg ]] || return 0
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  [[ ! -d $cg ]]
}

cmd_stop() {
  need_root
  (($# == 1)) || die "usage: lab.sh stop NAME | --all"
  if [[ $1 == --all ]]; then
    local d
    for d in "$RUN"/*/; do [[ -d $d ]] && cmd_stop "$(basename "$d")"; done
    return 0
  fi
  local name=$1 dir nspawn="" leader="" i cg pid
  valid_name "$name"
  dir=$(node_dir "$name")
  [[ -d $dir ]] || return 0
  [[ -f $dir/nspawn ]] && nspawn=$(<"$dir/nspawn")
  [[ -f $dir/leader ]] && leader=$(<"$dir/leader")
  if [[ -n $leader && -d /proc/$leader ]]; then
    # A clean poweroff first (systemd stops the units, nspawn exits), bounded to 5 s: a node a
    # fault left with a stopped shim would wait out systemd's stop timeouts.
    in_node "$leader" systemctl poweroff >/dev/null 2>&1 || kill -RTMIN+4 "$leader" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -n $nspawn ]] && kill -0 "$nspawn" 2>/dev/null || break
      sleep 0.1
    done
  fi
  # Whatever is left in the node's cgroups (a hung poweroff, a stopped shim) is killed.
  if [[ -f $dir/cgroups ]]; then
    while read -r cg; do
      [[ -d $cg ]] || continue
      for ((i = 0; i < 50; i++)); do
        mapfile -t pids < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
        ((${#pids[@]})) || break
        for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
        sleep 0.1
      done
      remove_cgroup "$cg" || echo "lab: could not remove cgroup $cg" >&2
    done <"$dir/cgroups"
    for cg in "${CGROUP_ROOTS[@]}"; do rmdir "$cg/nodemedic-lab" 2>/dev/null || true; done
  fi
  if [[ -n $nspawn ]]; then
    for ((i = 0; i < 50; i++)); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$dir"
}

cmd_list() {
  local d
  for d in "$RUN"/*/; do
    [[ -f $d/leader ]] || continue
    echo "$(basename "$d") $(<"$d/suite") $(<"$d/leader")"
  done
}

case ${1:-} in
  build) shift && cmd_build "$@" ;;
  path)
    (($# == 2)) || die "usage: lab.sh path SUITE"
    known_suite "$2"
    [[ -f $(image_dir "$2")/ready ]] || cmd_build "$2" >&2
    echo "$(image_dir "$2")/root"
    ;;
  start) shift && cmd_start "$@" ;;
  exec) shift && cmd_exec "$@" ;;
  stop) shift && cmd_stop "$@" ;;
  list) cmd_list ;;
  _customize) customize_root "$2" ;;
  *) die "usage: lab.sh build [SUITE...] | path SUITE | start SUITE NAME [--bind-ro HOST:NODE]... | exec NAME -- CMD... | stop NAME|--all | list" ;;
esac
