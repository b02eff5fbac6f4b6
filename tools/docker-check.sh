#!/bin/bash
# docker-check.sh — builds and runs the Dockerfile without Docker.
#
# Usage: tools/docker-check.sh [BUILD_DIR]        (make docker-check; root; a few minutes)
#
# The Dockerfile is parsed (tools/dockerfile.py), not restated here, and replayed:
#   - every FROM debian:<suite>[-slim] is a fresh root unpacked from a Debian <suite> minbase
#     made by debootstrap from the machine's own Debian mirror (read from its apt config) and
#     cached under BUILD_DIR/docker-check/cache, so that reruns skip the bootstrap;
#   - ENV, ARG, WORKDIR and USER set what the following RUNs see; every RUN is `/bin/sh -c`
#     (or its exec form) chrooted into the stage's root, in its own mount and PID namespace
#     with /proc, a minimal /dev and a read-only /sys, as Docker runs it;
#   - COPY takes the build context (the working tree less .dockerignore, as `docker build .`
#     sends it) or, with --from, a file of an earlier stage;
#   - then the final image is started as a container would be: ENTRYPOINT + CMD as USER with
#     the image's environment only, on a read-only root (Kubernetes' readOnlyRootFilesystem),
#     in a network namespace of its own (so BALLAST_BIND=0.0.0.0 reaches nothing but that
#     namespace's loopback). The HEALTHCHECK command must exit 0, the image's default port
#     must be an EXPOSEd one, a request must be answered, and STOPSIGNAL must make the server
#     exit 0 (the drain).
# Nothing is left mounted or running: each step's namespaces die with it, and a trap
# unmounts and stops anything left on any exit. The stages' roots are on a tmpfs, unless
# DOCKER_CHECK_KEEP=1 keeps them in BUILD_DIR/docker-check/stages for a look afterwards.
# DOCKER_CHECK_CONTEXT=DIR builds another tree than this one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
repo=$(cd "$here/.." && pwd)

log() { printf 'docker-check: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---- inside a namespace: one RUN, or the container -----------------------------------------

# Mounts /proc, a minimal /dev and a read-only /sys under root $1 (in the caller's private
# mount namespace, so they vanish with it; the trap is for an early exit).
mount_system() {
    local root=$1 n
    mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
    mount -t tmpfs -o nosuid,mode=0755,size=64k dev "$root/dev"
    for n in null zero full random urandom tty; do
        touch "$root/dev/$n"
        mount --bind "/dev/$n" "$root/dev/$n"
    done
    mkdir -p "$root/dev/pts" "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,nosuid,noexec devpts "$root/dev/pts"
    ln -s pts/ptmx "$root/dev/ptmx"
    mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    mkdir -p "$root/sys"
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
}

unmount_under() {
    local m
    for m in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    umount "$1" 2>/dev/null || true
}

# __run ROOT WORKDIR USERSPEC ENV... -- ARGV...: one RUN step (PID 1 of a new PID namespace).
run_step() {
    local root=$1 workdir=$2 userspec=$3
    shift 3
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    ns_root=$root  # for the trap, which runs after this function's locals are gone
    trap 'unmount_under "$ns_root"' EXIT
    mount_system "$root"
    mkdir -p "$root$workdir"
    local chroot=(/usr/sbin/chroot)
    [ -z "$userspec" ] || chroot+=(--userspec="$userspec" --groups="${userspec#*:}")
    set +e
    # shellcheck disable=SC2016  # $0 and $@ are the chrooted shell's
    env -i "${envs[@]}" "${chroot[@]}" "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"
    local rc=$?
    set -e
    return $rc
}

# __container ROOT USERSPEC PORT STOPSIGNAL ENV... -- ENTRYPOINT... -- HEALTHCHECK...:
# starts the image in a new network, PID and mount namespace (as PID 1 of it).
run_container() {
    local root=$1 userspec=$2 port=$3 stopsig=$4
    shift 4
    local envs=() entry=() health=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    while [ "$1" != "--" ]; do entry+=("$1"); shift; done
    shift
    health=("$@")
    local pid=
    ns_root=$root ns_pid=
    trap '[ -z "$ns_pid" ] || kill -KILL "$ns_pid" 2>/dev/null; unmount_under "$ns_root"' EXIT
    ip link set lo up
    # The image's root read-only, its system mounts on top (as readOnlyRootFilesystem).
    mount --bind "$root" "$root"
    mount_system "$root"
    mount -o remount,bind,ro "$root"
    local chroot=(/usr/sbin/chroot --userspec="$userspec" --groups="${userspec#*:}" "$root")
    local logf
    logf=$(mktemp)
    env -i "${envs[@]}" "${chroot[@]}" "${entry[@]}" >"$logf" 2>&1 &
    pid=$!
    ns_pid=$pid
    local i ok=
    for i in $(seq 1 60); do  # the HEALTHCHECK, every 0.25 s for up to 15 s
        if env -i "${envs[@]}" /usr/bin/timeout 5 "${chroot[@]}" "${health[@]}" >/dev/null 2>&1; then
            ok=1
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    sed 's/^/    ballastd: /' "$logf" >&2
    [ -n "$ok" ] || { log "HEALTHCHECK ${health[*]} never exited 0"; return 1; }
    log "container: HEALTHCHECK \`${health[*]}\` exited 0 after $(( (i - 1) * 250 )) ms"
    local uid
    uid=$(awk '/^Uid:/ {print $2}' "$root/proc/$pid/status")  # this PID namespace's /proc
    [ "$uid" = "${userspec%%:*}" ] || { log "ENTRYPOINT runs as uid $uid, not $userspec"; return 1; }
    [ "$uid" != 0 ] || { log "ENTRYPOINT runs as root"; return 1; }
    log "container: ENTRYPOINT \`${entry[*]}\` runs as uid $uid on a read-only root"
    local answer
    answer=$(curl -sS --max-time 5 -d '{"counts": [100000, 100, 10]}' "http://127.0.0.1:$port/weights")
    case $answer in
    *'"weights":[1.0,1000.0,10000.0]'*) log "container: POST /weights on the EXPOSEd port $port: $answer" ;;
    *) log "POST /weights on port $port answered: $answer"; return 1 ;;
    esac
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] ||
        { log "/readyz is not 200"; return 1; }
    local t0 rc
    t0=$(date +%s%N)
    kill -s "${stopsig#SIG}" "$pid"
    set +e
    wait "$pid"
    rc=$?
    set -e
    ns_pid=
    sed 's/^/    ballastd: /' "$logf" | tail -n 2 >&2
    rm -f "$logf"
    [ "$rc" = 0 ] || { log "STOPSIGNAL $stopsig: ballastd exited $rc, not 0"; return 1; }
    log "container: STOPSIGNAL $stopsig -> exit 0 in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    if env -i "${envs[@]}" /usr/bin/timeout 5 "${chroot[@]}" "${health[@]}" >/dev/null 2>&1; then
        log "HEALTHCHECK still passes after the server stopped"
        return 1
    fi
    log "container: HEALTHCHECK fails once the server is gone (as it should)"
}

case ${1:-} in
__run) shift; run_step "$@"; exit ;;
__container) shift; run_container "$@"; exit ;;
esac

# ---- the driver -----------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
build=$(mkdir -p "${1:-$repo/build}" && cd "${1:-$repo/build}" && pwd)
context=$(cd "${DOCKER_CHECK_CONTEXT:-$repo}" && pwd)

# Everything below runs in a private mount namespace: no mount can leak to the machine.
if [ -z "${DOCKER_CHECK_PRIVATE:-}" ]; then
    exec env DOCKER_CHECK_PRIVATE=1 unshare --mount --propagation private "$self" "$@"
fi

for tool in debootstrap unshare chroot findmnt curl ip; do
    command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ -n "${missing:-}" ]; then
    log "installing debootstrap (missing:$missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap util-linux mount curl iproute2 >/dev/null
fi

start=$(date +%s)
work="$build/docker-check"
cache="$work/cache"
arch=$(dpkg --print-architecture)
mkdir -p "$cache" "$work/stages"
rm -f "$work"/*.log
# The stages' roots live in memory: fast to unpack, and gone (unmounted) in an instant.
[ -n "${DOCKER_CHECK_KEEP:-}" ] || mount -t tmpfs -o size=8g,mode=0755 docker-check "$work/stages"
steps="$work/steps.sh"
python3 "$here/dockerfile.py" steps "$context/Dockerfile" >"$steps" || die "cannot parse the Dockerfile"

declare -A stage_root=() stage_env_keys=() stage_workdir=() stage_user=()
declare -A image_env=()
image_env_order=() image_expose=() image_entry=() image_cmd=() image_health=()
image_user=''
image_stopsig=SIGTERM
last=
container_pid=

cleanup() {
    local rc=$?
    [ -z "$container_pid" ] || kill -KILL "$container_pid" 2>/dev/null || true
    unmount_under "$work"
    if [ -z "${DOCKER_CHECK_KEEP:-}" ] && [ -d "$work/stages" ]; then
        if findmnt -rn -o TARGET | grep -qF "$work/stages"; then
            log "something is still mounted under $work/stages; not removing it"
        else
            rm -rf --one-file-system "$work/stages"
        fi
    fi
    if [ $rc = 0 ]; then
        log "PASSED in $(( $(date +%s) - start )) s"
    else
        log "FAILED after $(( $(date +%s) - start )) s (logs: $work/*.log)"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A cached minbase root of SUITE: the .debs (debootstrap --make-tarball), then the
# bootstrapped tree (--unpack-tarball) as a tar that every stage unpacks afresh.
base_tarball() {
    local suite=$1 mirror debs rootfs tmp
    debs="$cache/$suite-minbase-$arch-debs.tgz"
    rootfs="$cache/$suite-minbase-$arch-root.tar"
    if [ -s "$rootfs" ]; then
        echo "$rootfs"
        return
    fi
    mirror=$(python3 "$here/dockerfile.py" apt-sources "$suite" --mirror) ||
        die "no Debian mirror for $suite in the machine's apt configuration"
    tmp="$work/bootstrap"
    rm -rf --one-file-system "$tmp"
    if [ ! -s "$debs" ]; then
        log "debootstrap: downloading $suite minbase ($arch) from $mirror"
        debootstrap --variant=minbase --arch="$arch" --make-tarball="$debs.part.tgz" \
            "$suite" "$tmp" "$mirror" >"$work/debootstrap.log" 2>&1 ||
            { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap --make-tarball"; }
        mv "$debs.part.tgz" "$debs"
        rm -rf --one-file-system "$tmp"
    fi
    log "debootstrap: bootstrapping $suite minbase from $(basename "$debs")"
    debootstrap --variant=minbase --arch="$arch" --unpack-tarball="$debs" \
        "$suite" "$tmp" "$mirror" >>"$work/debootstrap.log" 2>&1 ||
        { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap --unpack-tarball"; }
    unmount_under "$tmp"
    tar -C "$tmp" --numeric-owner -cpf "$rootfs.part" .
    mv "$rootfs.part" "$rootfs"
    rm -rf --one-file-system "$tmp"
    echo "$rootfs"
}

# FROM: a fresh root, set up as Debian's official images are (their apt sources, no service
# starts, and for -slim no documentation), or a copy of an earlier stage.
df_from() {
    local idx=$1 base=$2 name=$3 parent=$4 root="$work/stages/$1" suite slim=
    last=$idx
    log "stage $idx${name:+ ($name)}: FROM $base"
    mkdir -p "$work/stages"
    rm -rf --one-file-system "$root"
    if [ -n "$parent" ]; then
        cp -a "${stage_root[$parent]}" "$root"
        stage_env_keys[$idx]=${stage_env_keys[$parent]}
        local k v
        for k in ${stage_env_keys[$parent]}; do
            v="stage_${parent}_$k"
            printf -v "stage_${idx}_$k" '%s' "${!v}"
        done
        stage_workdir[$idx]=${stage_workdir[$parent]}
        stage_user[$idx]=${stage_user[$parent]}
        stage_root[$idx]=$root
        return
    fi
    [[ $base =~ ^(docker\.io/)?(library/)?debian:([a-z]+)(-slim)?$ ]] ||
        die "FROM $base: only debian:<suite> and debian:<suite>-slim can be checked without Docker"
    suite=${BASH_REMATCH[3]}
    slim=${BASH_REMATCH[4]}
    local tarball
    tarball=$(base_tarball "$suite")
    mkdir -p "$root"
    tar -C "$root" --numeric-owner -xpf "$tarball"
    rm -f "$root/etc/apt/sources.list"
    python3 "$here/dockerfile.py" apt-sources "$suite" >"$root/etc/apt/sources.list.d/debian.sources"
    cat /etc/resolv.conf >"$root/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    if [ -n "$slim" ]; then  # what debian:*-slim leaves out
        printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
            'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
            'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
            >"$root/etc/dpkg/dpkg.cfg.d/docker"
        find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
        rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"*
    fi
    stage_root[$idx]=$root
    stage_env_keys[$idx]="PATH"
    eval "stage_${idx}_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    stage_workdir[$idx]=/
    stage_user[$idx]=
}

stage_envs() {  # KEY=VALUE for every ENV/ARG of stage $1, in order
    local k v
    for k in ${stage_env_keys[$1]}; do
        v="stage_$1_$k"
        printf '%s=%s\0' "$k" "${!v}"
    done
}

df_env() {
    local idx=$1 key=$2 value=$3
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "ENV $key: not a variable name"
    case " ${stage_env_keys[$idx]} " in *" $key "*) ;; *) stage_env_keys[$idx]+=" $key" ;; esac
    printf -v "stage_${idx}_${key}" '%s' "$value"
}

df_workdir() {
    stage_workdir[$1]=$2
    mkdir -p "${stage_root[$1]}$2"
}

df_user() { stage_user[$1]=$2; }

userspec_of() {  # "uid:gid" of USER $2 in stage $1 ("" for root)
    local ids
    [ -n "$2" ] || return 0
    ids=$(python3 "$here/dockerfile.py" user-ids "$2" "${stage_root[$1]}") || die "USER $2"
    echo "${ids% *}:${ids#* }"
}

df_run() {
    local idx=$1
    shift
    local root=${stage_root[$idx]} userspec home=/root envs=() t0 rc n
    userspec=$(userspec_of "$idx" "${stage_user[$idx]}")
    [ -z "$userspec" ] || home=/
    mapfile -d '' envs < <(stage_envs "$idx")
    n=$(find "$work" -maxdepth 1 -name '*.log' | wc -l)
    local logf="$work/stage$idx-run$n.log"
    printf 'docker-check: stage %s: RUN %s\n' "$idx" "${*:3}" | cut -c1-160 >&2
    t0=$(date +%s)
    set +e
    unshare --pid --mount --fork --kill-child "$self" __run "$root" "${stage_workdir[$idx]}" \
        "$userspec" "HOME=$home" "HOSTNAME=docker-check" "${envs[@]}" -- "$@" >"$logf" 2>&1
    rc=$?
    set -e
    if [ $rc != 0 ]; then
        tail -n 60 "$logf" | sed 's/^/    | /' >&2
        die "stage $idx: RUN exited $rc (full log: $logf)"
    fi
    # The last lines say what happened (apt's, or the test runner's summary).
    grep -E '^(total|[a-z_-]+): [0-9]+ passed, [0-9]+ failed|^[0-9]+%: Checks' "$logf" |
        sed 's/^/    | /' >&2 || true
    log "stage $idx: RUN done in $(( $(date +%s) - t0 )) s"
}

df_copy() {
    local idx=$1 from=$2 chown=$3 chmod=$4
    shift 4
    local srcs=("${@:1:$#-1}") dest=${!#} root=${stage_root[$idx]} s
    [ -z "$chown$chmod" ] || die "COPY --chown/--chmod are not supported by this checker"
    if [ -z "$from" ]; then
        log "stage $idx: COPY ${srcs[*]} $dest (build context $context)"
        local list="$work/context.list"
        python3 "$here/dockerfile.py" context "$context" >"$list"
        for s in "${srcs[@]}"; do
            s=$(realpath -m --relative-to=/ "/$s")  # "." -> ".", "a/b/" -> "a/b"
            local target=$root$dest
            if [ "$s" = . ] || [ -d "$context/$s" ]; then
                mkdir -p "$target"
                local base=$s
                [ "$s" != . ] || base=
                tr '\0' '\n' <"$list" | awk -v b="$base" 'b == "" || index($0, b "/") == 1' |
                    sed "s|^${base:+$base/}||" | tr '\n' '\0' |
                    tar -C "$context/${base:-.}" --null --no-recursion -cf - -T - |
                    tar -C "$target" --no-same-owner -xf -
            else
                [ -f "$context/$s" ] || die "COPY $s: not in the build context"
                mkdir -p "$(dirname "$target")"
                [[ $dest == */ ]] && target=$target/$(basename "$s")
                install -m "$(stat -c %a "$context/$s")" -o 0 -g 0 "$context/$s" "$target"
            fi
        done
        chown -R 0:0 "$root$dest"
    else
        log "stage $idx: COPY --from=$from ${srcs[*]} $dest"
        for s in "${srcs[@]}"; do
            local src=${stage_root[$from]}$s target=$root$dest
            [ -e "$src" ] || die "COPY --from=$from $s: no such file in stage $from"
            [[ $dest == */ ]] && { mkdir -p "$target"; target=$target/$(basename "$s"); }
            mkdir -p "$(dirname "$target")"
            cp -dR --preserve=mode,timestamps "$src" "$target"
            chown -R 0:0 "$target"
        done
    fi
}

df_image_user() { image_user=$1; }
df_image_env() { image_env[$1]=$2; image_env_order+=("$1"); }
df_image_workdir() { :; }
df_image_expose() { image_expose+=("$1"); }
df_image_entrypoint() { image_entry=("$@"); }
df_image_cmd() { image_cmd=("$@"); }
df_image_healthcheck() { image_health=("$@"); }
df_image_stopsignal() { image_stopsig=$1; }

log "Dockerfile: $context/Dockerfile; Debian mirror: $(python3 "$here/dockerfile.py" apt-sources bookworm --mirror 2>/dev/null || echo '?')"
# shellcheck disable=SC1090
source "$steps"

# ---- the container --------------------------------------------------------------------------
[ ${#image_entry[@]} -gt 0 ] || die "no ENTRYPOINT"
[ ${#image_health[@]} -gt 0 ] || die "no HEALTHCHECK CMD"
userspec=$(userspec_of "$last" "$image_user")
if [ -z "$userspec" ] || [ "${userspec%%:*}" = 0 ]; then
    die "the image runs as root (USER ${image_user:-unset})"
fi
home=$(awk -F: -v u="${userspec%%:*}" '$3 == u {print $6}' "${stage_root[$last]}/etc/passwd")
envs=("HOSTNAME=docker-check" "HOME=${home:-/}")
for k in "${image_env_order[@]}"; do envs+=("$k=${image_env[$k]}"); done
# The port the server listens on: BALLAST_PORT if the image sets it, else ballastd's default.
port=${image_env[BALLAST_PORT]:-8080}
case " ${image_expose[*]} " in
*" $port/tcp "*) ;;
*) die "ballastd listens on $port but the image EXPOSEs ${image_expose[*]:-nothing}" ;;
esac
log "container: user $userspec, env: ${envs[*]}, EXPOSE ${image_expose[*]}"
unshare --net --pid --mount --fork --kill-child "$self" __container "${stage_root[$last]}" \
    "$userspec" "$port" "$image_stopsig" "${envs[@]}" -- "${image_entry[@]}" "${image_cmd[@]}" \
    -- "${image_health[@]}" || die "the container check"
