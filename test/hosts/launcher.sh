#!/bin/sh
# Boots one test host. Runs as the first process of fresh mount/uts/ipc/pid/cgroup namespaces
# (unshare --fork) inside the host's network namespace, so every mount below is private and dies
# with the host's PID 1. Usage: launcher.sh NAME LOWER UPPER WORK MERGED
set -eu
name=$1 lower=$2 upper=$3 work=$4 root=$5

# fds above 2 were closed before `ip netns exec` (host.ts, withClosedFds): nothing leaks in.

mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
# The uts namespace is ours alone: set the name before /proc/sys goes read-only.
echo "$name" > /proc/sys/kernel/hostname

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# /proc/sys read-only (kernel knobs are shared) except net, which is this netns's own.
mount --bind "$root/proc/sys" "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
# cgroup2 rooted at this host's own cgroup (cgroup namespace): systemd manages its subtree.
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"

mount -t tmpfs -o mode=755,nosuid,size=4m tmpfs "$root/dev"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/zero" c 1 5
mknod -m 666 "$root/dev/full" c 1 7
mknod -m 666 "$root/dev/random" c 1 8
mknod -m 666 "$root/dev/urandom" c 1 9
mknod -m 666 "$root/dev/tty" c 5 0
mkdir -m 755 "$root/dev/pts"
mkdir -m 1777 "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
# container= tells systemd it runs in a container (skips udev, hardware and console units).
exec /usr/bin/env -i container=provision-testhosts PATH=/usr/sbin:/usr/bin:/sbin:/bin /sbin/init
