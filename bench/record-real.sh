#!/usr/bin/env bash
# Records REAL outputs of functions/scripts/diagnose.sh against containerd 1.7 and 2.x from
# Debian's packages (trixie, sid), started bare with their own temp root, state, socket and log,
# one fault per case, into test/fixtures/facts/recorded/<case>-<version>.json. The analyzer's unit
# tests (test/core/recorded.test.ts) read them, so they are the script's exact stdout.
#
#   bench/record-real.sh                      # every case on both versions
#   bench/record-real.sh 2.1 config-invalid   # one
#
# The packages come through an apt configuration of its own (own sources list, lists and cache
# dirs under $CACHE): the host's apt sources are never touched. Needs root (tmpfs mounts, runc,
# unshare) and runc on PATH. Everything it starts it kills, everything it mounts it unmounts.
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/test/fixtures/facts/recorded
CACHE=${NODEMEDIC_DEBS:-/tmp/nodemedic-causes-debs}
declare -A PKG=([1.7]='containerd=1.7.24~ds1-6+deb13u1' [2.1]='containerd=2.1.9+ds1-5')
CASES_1_7=(healthy sandbox-image-missing cri-mirrors-config-path cri-unknown-snapshotter metadata-corrupt disk-full stuck-shim host-blind bottlerocket-view)
CASES_2_1=(healthy sandbox-image-missing cri-mirrors-config-path cri-unknown-snapshotter config-invalid ignored-keys metadata-corrupt disk-full stuck-shim bottlerocket-view)

say() { printf 'record-real: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Unpack containerd VERSION (1.7 or 2.1) under $CACHE/root-VERSION, downloading it once.
fetch() {
  local v=$1 apt=$CACHE/apt
  [[ -x $CACHE/root-$v/usr/bin/containerd ]] && return 0
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  cat >"$apt/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
EOF
  local o=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache" -o APT::Architecture=amd64)
  apt-get "${o[@]}" update >/dev/null
  (cd "$CACHE" && apt-get "${o[@]}" download "${PKG[$v]}" >/dev/null 2>&1)
  dpkg -x "$(ls "$CACHE"/containerd_"${v}".*_amd64.deb)" "$CACHE/root-$v"
}

# An OCI image archive holding one empty layer, named $1 (the pause image the config names).
pause_tar() {
  local name=$1 out=$2 w l c m ls cs ms
  w=$(mktemp -d)
  mkdir -p "$w/oci/blobs/sha256" "$w/empty"
  tar -C "$w/empty" -cf "$w/layer.tar" .
  l=$(sha256sum "$w/layer.tar" | cut -d' ' -f1) ls=$(stat -c %s "$w/layer.tar")
  cp "$w/layer.tar" "$w/oci/blobs/sha256/$l"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$l" >"$w/c.json"
  c=$(sha256sum "$w/c.json" | cut -d' ' -f1) cs=$(stat -c %s "$w/c.json")
  cp "$w/c.json" "$w/oci/blobs/sha256/$c"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$c" "$cs" "$l" "$ls" >"$w/m.json"
  m=$(sha256sum "$w/m.json" | cut -d' ' -f1) ms=$(stat -c %s "$w/m.json")
  cp "$w/m.json" "$w/oci/blobs/sha256/$m"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
    "$m" "$ms" "$name" >"$w/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci/oci-layout"
  tar -C "$w/oci" -cf "$out" .
  rm -rf "$w"
}

# The case's config: version 2 for 1.7 (and the 1.x-era config fed to 2.1), version 3 for 2.1.
config() {
  local v=$1 case=$2 d=$3
  if [[ $v == 1.7 || $case == ignored-keys ]]; then
    cat <<EOF
version = 2
root = "$d/root"
state = "$d/state"

[grpc]
  address = "$d/c.sock"

[ttrpc]
  address = "$d/c.sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    disable_cgroup = true
    sandbox_image = "registry.k8s.io/pause:3.8"
EOF
    case $case in
      cri-mirrors-config-path)
        cat <<'EOF'
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
      [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
        endpoint = ["https://registry-1.docker.io"]
EOF
        ;;
      cri-unknown-snapshotter)
        printf '    [plugins."io.containerd.grpc.v1.cri".containerd]\n      snapshotter = "zfs-typo"\n'
        ;;
    esac
  else
    cat <<EOF
version = 3
root = "$d/root"
state = "$d/state"

[grpc]
  address = "$d/c.sock"

[ttrpc]
  address = "$d/c.sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.cri.v1.images"]
EOF
    [[ $case == cri-unknown-snapshotter ]] && printf '    snapshotter = "zfs-typo"\n'
    printf '    [plugins."io.containerd.cri.v1.images".pinned_images]\n      sandbox = "registry.k8s.io/pause:3.10"\n'
    if [[ $case == cri-mirrors-config-path ]]; then
      cat <<'EOF'
    [plugins."io.containerd.cri.v1.images".registry]
      config_path = "/etc/containerd/certs.d"
      [plugins."io.containerd.cri.v1.images".registry.mirrors."docker.io"]
        endpoint = ["https://registry-1.docker.io"]
EOF
    fi
    [[ $case == config-invalid ]] && printf 'this line is not toml\n'
  fi
  return 0
}

DIR=""
MOUNTED=""
cleanup() {
  [[ -z $DIR ]] && return 0
  local p
  # Every process naming the case dir (daemon, shims), resumed first so SIGKILL lands.
  for p in $(pgrep -f "$DIR" || true); do
    kill -CONT "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  done
  [[ -n ${CONTAINER_PID:-} ]] && kill -KILL "$CONTAINER_PID" 2>/dev/null || true
  CONTAINER_PID=""
  sleep 0.3
  # The shims' sockets live in /run/containerd/s whatever the daemon's address: remove the ones
  # this case made that nothing listens on any more.
  for p in /run/containerd/s/*; do
    [[ -S $p && $p -nt $DIR/config.toml ]] || continue
    grep -qF "$p" /proc/net/unix || rm -f "$p"
  done
  rmdir /run/containerd/s 2>/dev/null || true
  [[ -n $MOUNTED ]] && umount "$MOUNTED" 2>/dev/null || true
  MOUNTED=""
  rm -rf "$DIR"
  DIR=""
}
trap cleanup EXIT

start_daemon() {
  local v=$1 bin=$CACHE/root-$1/usr/bin i
  PATH=$bin:$PATH setsid "$bin/containerd" --config "$DIR/config.toml" >>"$DIR/containerd.log" 2>&1 </dev/null &
  disown
  for ((i = 0; i < 100; i++)); do
    [[ -S $DIR/c.sock ]] && "$bin/ctr" --address "$DIR/c.sock" --timeout 2s version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
stop_daemon() {
  local p
  for p in $(pgrep -x containerd || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$DIR/config.toml" && kill -TERM "$p"
  done
  sleep 1
}
ctr_() { "$CACHE/root-$V/usr/bin/ctr" --address "$DIR/c.sock" --timeout 10s "$@"; }

# Run the diagnosis against the case's daemon; $1 = how (plain | blind | bottlerocket).
diagnose() {
  local how=$1 bin=$CACHE/root-$V/usr/bin
  # The sandbox image matters only where kubelet makes pod sandboxes: for that case the script
  # must find a kubelet, so a stand-in (presence on PATH only, it runs nothing) is put first.
  if [[ $CASE == sandbox-image-missing ]]; then
    mkdir -p "$DIR/kubelet-bin"
    printf '#!/bin/sh\necho "Kubernetes v1.33.0 (nodemedic stand-in: presence only)"\n' >"$DIR/kubelet-bin/kubelet"
    chmod +x "$DIR/kubelet-bin/kubelet"
    bin=$DIR/kubelet-bin:$bin
  fi
  local env=(PATH="$bin:$PATH" NODEMEDIC_ADDRESS="$DIR/c.sock" NODEMEDIC_CONFIG="$DIR/config.toml"
    NODEMEDIC_ROOT="$DIR/root" NODEMEDIC_STATE="$DIR/state" NODEMEDIC_LOG_FILE="$DIR/containerd.log")
  if [[ $how == plain ]]; then
    env "${env[@]}" bash "$REPO/functions/scripts/diagnose.sh"
    return
  fi
  # The view from a container without the host's systemd, socket, config or journal (Bottlerocket's
  # control container): own PID and mount namespaces, /run and /etc/containerd empty, default paths.
  # The Bottlerocket emulation adds what its control container has: `apiclient` on PATH.
  local extra=""
  if [[ $how == bottlerocket ]]; then
    mkdir -p "$DIR/br-bin"
    printf '#!/bin/sh\necho "apiclient stand-in: the Bottlerocket API is not reachable here" >&2\nexit 1\n' >"$DIR/br-bin/apiclient"
    chmod +x "$DIR/br-bin/apiclient"
    extra=$DIR/br-bin:
  fi
  unshare --mount --pid --fork --mount-proc --propagation private env PATH="$extra$bin:$PATH" bash -c '
    mount -t tmpfs none /run && mount -t tmpfs none /etc/containerd && mount -t tmpfs none /var/log
    exec bash "$1"' _ "$REPO/functions/scripts/diagnose.sh"
}

record() {
  V=$1
  CASE=$2
  local case=$2 version how=plain
  version=$("$CACHE/root-$V/usr/bin/containerd" --version | awk '{ print $3 }' | sed 's/[~+].*//')
  DIR=$(mktemp -d /tmp/nmrr-XXXX)
  mkdir -p "$DIR/root" "$DIR/state"
  config "$V" "$case" "$DIR" >"$DIR/config.toml"
  if [[ $case == disk-full ]]; then
    # A small tmpfs as containerd's root: filled to the last block and the last inode below.
    mount -t tmpfs -o size=4m,nr_inodes=400 nodemedic-disk-full "$DIR/root"
    MOUNTED=$DIR/root
  fi
  [[ $case == config-invalid ]] || start_daemon "$V" || die "$case: containerd $V did not start: $(tail -n 3 "$DIR/containerd.log")"
  case $case in
    sandbox-image-missing | config-invalid) ;;
    *)
      local ref=registry.k8s.io/pause:3.8
      # 2.1 migrates a version 2 config's sandbox_image; a version 3 config names its own.
      [[ $V == 2.1 && $case != ignored-keys ]] && ref=registry.k8s.io/pause:3.10
      pause_tar "$ref" "$DIR/pause.tar"
      ctr_ -n k8s.io images import "$DIR/pause.tar" >/dev/null
      ;;
  esac
  case $case in
    metadata-corrupt)
      stop_daemon
      head -c 65536 /dev/zero | tr '\0' 'x' >"$DIR/root/io.containerd.metadata.v1.bolt/meta.db"
      start_daemon "$V" || die "$case: containerd did not restart"
      ;;
    disk-full)
      local i=0
      while touch "$DIR/root/fill-inode-$i" 2>/dev/null; do i=$((i + 1)); done
      rm -f "$DIR/root/fill-inode-0" "$DIR/root/fill-inode-1"
      dd if=/dev/zero of="$DIR/root/fill-blocks" bs=64k 2>/dev/null || true
      touch "$DIR/root/fill-inode-0" "$DIR/root/fill-inode-1" 2>/dev/null || true
      ;;
    stuck-shim)
      local rootfs=$DIR/rootfs l shim
      mkdir -p "$rootfs/bin"
      cp /bin/sleep "$rootfs/bin/"
      for l in $(ldd /bin/sleep | grep -o '/[^ ]*'); do
        mkdir -p "$rootfs$(dirname "$l")"
        cp "$l" "$rootfs$l"
      done
      # No cgroup, runc's state and no FIFOs under the case dir: nothing of it outlives the case.
      PATH=$CACHE/root-$V/usr/bin:$PATH ctr_ -n k8s.io run -d --null-io --cgroup "" --runc-root "$DIR/runc" \
        --rootfs "$rootfs" "nodemedic-stuck-$$" /bin/sleep 600 >/dev/null
      CONTAINER_PID=$(ctr_ -n k8s.io tasks ls | awk -v id="nodemedic-stuck-$$" '$1 == id { print $2 }')
      shim=$(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -id nodemedic-stuck-$$") || die "no shim"
      kill -STOP "$shim"
      ;;
    host-blind) how=blind ;;
    bottlerocket-view) how=bottlerocket ;;
  esac
  local out
  out=$(diagnose "$how")
  python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$out" || die "$case: not one JSON document"
  printf '%s\n' "$out" >"$OUT/$case-$version.json"
  say "$case on $version: ${#out} chars -> recorded/$case-$version.json"
  cleanup
}

[[ $(id -u) == 0 ]] || die "needs root"
mkdir -p "$CACHE" "$OUT"
if (($# == 2)); then
  fetch "$1"
  record "$1" "$2"
  exit 0
fi
fetch 1.7
fetch 2.1
for c in "${CASES_1_7[@]}"; do record 1.7 "$c"; done
for c in "${CASES_2_1[@]}"; do record 2.1 "$c"; done
