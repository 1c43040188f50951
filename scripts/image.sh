#!/usr/bin/env bash
# Build fpcheck's container image and smoke-test it without running a container:
#   1. a Debian bookworm base made with debootstrap (python3, python3-venv, ca-certificates), cached;
#   2. the image from Containerfile (podman build --isolation chroot: no container runtime needed);
#   3. the image's root file system mounted (podman image mount) and, chrooted into it as the
#      image's user, `fpcheck --version` and `fpcheck demo healthy` (local stand-ins on 127.0.0.1).
# Needs root (debootstrap, image mounts). Prints the measurements on stdout, progress on stderr.
#   FPCHECK_IMAGE         image name (default localhost/fpcheck), tagged :VERSION and :latest
#   FPCHECK_BASE          base image (default localhost/fpcheck-base:bookworm)
#   FPCHECK_REBUILD_BASE  set to 1 to make the base again even when it exists
#   DEBIAN_MIRROR         default http://deb.debian.org/debian
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${FPCHECK_IMAGE:-localhost/fpcheck}
BASE=${FPCHECK_BASE:-localhost/fpcheck-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n 1)

say() { echo "scripts/image.sh: $*" >&2; }
die() { echo "scripts/image.sh: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ -n "$VERSION" ] || die "no version in pyproject.toml"
[ "$(id -u)" = 0 ] || die "run as root: debootstrap and podman image mount need it"

work=$(mktemp -d /var/tmp/fpcheck-image.XXXXXX)
mounted=""
# what debootstrap mounts in the new root (/proc, /sys) stays mounted if it is killed: unmount it,
# and delete with --one-file-system, so that nothing of the host is ever deleted through a mount
unmount_under() {
  awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || say "could not unmount $m"
  done
}
cleanup() {
  if [ -n "$mounted" ]; then
    timeout 60 podman image unmount "$mounted" >/dev/null 2>&1 || say "could not unmount $mounted"
  fi
  unmount_under "$work"
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- tools
need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "${need[*]} missing and no apt-get to install them: install them first"
  say "installing ${need[*]} with apt-get (to build the image)"
  timeout 600 apt-get update -qq >"$work/apt.log" 2>&1 \
    || { tail -n 20 "$work/apt.log" >&2; die "apt-get update failed or took over 600 s"; }
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need[@]}" >"$work/apt.log" 2>&1 \
    || { tail -n 20 "$work/apt.log" >&2; die "apt-get install ${need[*]} failed or took over 900 s"; }
fi

# ---------------------------------------------------------------- base
if [ "${FPCHECK_REBUILD_BASE:-}" != 1 ] && timeout 60 podman image exists "$BASE"; then
  say "base $BASE exists: reusing it (FPCHECK_REBUILD_BASE=1 makes it again)"
  base_time="cached"
else
  say "making the base $BASE with debootstrap from $MIRROR"
  t0=$(now)
  root="$work/root"
  timeout 1200 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed or took over 1200 s"; }
  unmount_under "$root"
  # what a container needs no copy of: package caches, manuals, translations; the host's
  # resolver and name (runtimes provide their own); device nodes (runtimes mount /dev)
  rm -rf --one-file-system "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log \
    "$root"/dev/*
  find "$root/usr/share/doc" -xdev -type f ! -name copyright -delete
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
  echo fpcheck >"$root/etc/hostname"
  timeout 600 tar -C "$root" --numeric-owner -cf "$work/base.tar" . || die "could not pack the base"
  timeout 600 podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' "$work/base.tar" "$BASE" >/dev/null || die "podman import of the base failed"
  rm -rf --one-file-system "$root" "$work/base.tar"
  base_time="$(since "$t0") s"
fi

# ---------------------------------------------------------------- image
# pip inside the build trusts what the host trusts (a proxy's or a mirror's CA): the host's bundle
# is bind-mounted for the RUN steps only, so it never lands in a layer
ca=/etc/ssl/certs/ca-certificates.crt
pip_args=()
if [ -f "$ca" ]; then
  pip_args+=(--volume "$ca:/run/fpcheck-build/ca.crt:ro" --build-arg PIP_CERT=/run/fpcheck-build/ca.crt)
fi
case "${PIP_INDEX_URL:-}" in http://* | https://*) pip_args+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL") ;; esac

say "building $IMAGE:$VERSION from Containerfile (podman's output is shown only if it fails)"
t0=$(now)
# --format docker: the OCI format has no HEALTHCHECK, podman would drop it
timeout 1800 podman build --isolation chroot --format docker --pull=never \
  --build-arg BASE="$BASE" --build-arg VERSION="$VERSION" "${pip_args[@]}" \
  -t "$IMAGE:$VERSION" -t "$IMAGE:latest" -f Containerfile . >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; die "podman build failed or took over 1800 s"; }
image_time="$(since "$t0") s"

inspect() { timeout 60 podman image inspect --format "$1" "$IMAGE:$VERSION" || die "podman image inspect failed"; }
size=$(inspect '{{.Size}}')
health=$(inspect '{{.HealthCheck}}')
user=$(inspect '{{.Config.User}}')
workdir=$(inspect '{{.Config.WorkingDir}}')
cmd=$(inspect '{{.Config.Cmd}}')
mapfile -t envs < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
case "$health" in *healthz*) ;; *) die "the image has no HEALTHCHECK (got: ${health:-nothing})" ;; esac
case "$user" in "" | 0 | 0:* | root | root:*) die "the image runs as root (USER ${user:-unset})" ;; esac

# ---------------------------------------------------------------- smoke test
mounted="$IMAGE:$VERSION"
mnt=$(timeout 60 podman image mount "$mounted") || { mounted=""; die "podman image mount failed"; }
[ -x "$mnt/opt/fpcheck/bin/fpcheck" ] || die "no /opt/fpcheck/bin/fpcheck in the image"
for tool in opt/fpcheck/bin/pip usr/bin/gcc usr/bin/cc usr/bin/make; do
  [ ! -e "$mnt/$tool" ] || die "build tool /$tool left in the image"
done

# as the image would run it: its user (no other groups), its environment, its working directory
in_image() {
  timeout 120 chroot --userspec="$user" --groups="${user#*:}" "$mnt" \
    /usr/bin/env -i "${envs[@]}" COLUMNS=100 NO_COLOR=1 /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
}
version_out=$(in_image fpcheck --version 2>&1) || die "fpcheck --version failed in the image: $version_out"
[ "$version_out" = "fpcheck $VERSION" ] || die "fpcheck --version printed '$version_out', expected 'fpcheck $VERSION'"
# its log lines (stderr) are shown apart: the image mount is read-only, so the index stays in memory
demo_out=$(in_image fpcheck demo healthy 2>"$work/demo.err") \
  || { cat "$work/demo.err" >&2; die "fpcheck demo healthy failed in the image (or took over 120 s)"; }
case "$demo_out" in *"Scenario healthy"*"Every check passed"*) ;;
  *) echo "$demo_out" >&2; die "fpcheck demo healthy did not say every check passed" ;; esac
# what `serve` imports only when it starts: gunicorn, Socket Mode (pip and setuptools are gone)
import_out=$(in_image python -c 'import bot.slack.serve, gunicorn.app.base, slack_bolt.adapter.socket_mode' 2>&1) \
  || die "the serve modules do not import in the image: $(echo "$import_out" | tail -n 1)"
timeout 60 podman image unmount "$mounted" >/dev/null || die "podman image unmount failed"
mounted=""

echo "base image:   $BASE ($base_time)"
echo "image:        $IMAGE:$VERSION, built in $image_time"
echo "image size:   $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1000000 }') ($size bytes)"
echo "runs as:      $user, in $workdir; default command: $cmd"
echo "smoke test:   $version_out"
echo "$demo_out" | sed 's/^/              /'
[ ! -s "$work/demo.err" ] || sed 's/^/  (stderr)    /' "$work/demo.err"
echo "scripts/image.sh: ok"
