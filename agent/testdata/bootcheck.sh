#!/bin/sh
# bootcheck.sh — boot the agent as /init under QEMU with the real Debian
# kernel and check the whole life cycle by eye and by grep.
#
# Manual tool, not run by `go test` (the end-to-end suite covers real
# images in CI). Needs qemu-system-x86_64, btrfs-progs, xorriso, cpio,
# python3 and the kernel .deb in /var/cache/tbk. Run from anywhere:
#
#   sh agent/testdata/bootcheck.sh            # work dir /tmp/bootcheck
#
# It builds tbagent and a small test app (/bin/hello), writes a baked spec,
# copies the needed modules in dependency order, packs an initramfs and
# boots it directly (-kernel/-initrd, TCG) with a btrfs disk labelled
# "tinyboot" (vda), a small ISO with volume id HELLO (vdb) and user-mode
# networking. Once the app runs it presses the ACPI power button over QMP
# and expects a graceful shutdown and QEMU to exit. The console log is in
# $W/console.log; the script exits non-zero if an expected line is missing.
# MODE=cad presses Ctrl-Alt-Del instead and expects a reboot (QEMU runs
# with -no-reboot, so it exits either way).
set -eu

W=${W:-/tmp/bootcheck}
MODE=${MODE:-power}
KDEB=${KDEB:-/var/cache/tbk/linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb}
KVER=6.1.0-56-amd64
K=${K:-/tmp/agentk}
REPO=$(cd "$(dirname "$0")/../.." && pwd)

rm -rf "$W/root" && mkdir -p "$W/root/bin" "$W/root/etc/tinyboot" "$W/hello"
[ -f "$K/boot/vmlinuz-$KVER" ] || dpkg-deb -x "$KDEB" "$K"

echo "== build"
(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$W/root/init" ./cmd/tbagent)
ls -l "$W/root/init"
cat > "$W/hello/go.mod" <<'GO'
module hello
go 1.22
GO
cat > "$W/hello/main.go" <<'GO'
// hello is the bootcheck's app: it reports what the agent set up, then
// waits for SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	fmt.Printf("hello: pid %d args %q\n", os.Getpid(), os.Args[1:])
	for _, k := range []string{"PATH", "TINYBOOT_ISO", "TINYBOOT_PERSISTENT", "GREETING"} {
		fmt.Printf("hello: %s=%s\n", k, os.Getenv(k))
	}
	rc, err := os.ReadFile("/etc/resolv.conf")
	fmt.Printf("hello: resolv.conf %q %v\n", rc, err)
	err = os.WriteFile("/persistent/hello.txt", []byte(time.Now().String()), 0o644)
	fmt.Printf("hello: write /persistent/hello.txt: %v\n", err)
	ents, _ := os.ReadDir("/iso")
	for _, e := range ents {
		fmt.Printf("hello: /iso/%s\n", e.Name())
	}
	h, _ := os.Hostname()
	fmt.Printf("hello: hostname %s, time %s\n", h, time.Now().UTC().Format(time.RFC3339))
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	<-c
	fmt.Println("hello: got SIGTERM, exiting")
}
GO
(cd "$W/hello" && CGO_ENABLED=0 GOFLAGS= go build -trimpath -ldflags='-s -w' -o "$W/root/bin/hello" .)

echo "== modules"
M=$K/lib/modules/$KVER
# Dependency order, as the composer resolves it (from .modinfo depends=).
MODS=$(python3 - "$M" <<'PY'
import os, re, sys
M = sys.argv[1]
paths = {}
for root, _, fs in os.walk(M + "/kernel"):
    for f in fs:
        if f.endswith(".ko"):
            paths[f[:-3].replace("-", "_")] = os.path.join(root, f)
def deps(m):
    x = re.search(rb"\x00depends=([^\x00]*)\x00", open(paths[m], "rb").read())
    return [d.replace("-", "_") for d in x.group(1).decode().split(",") if d] if x else []
order = []
def visit(m):
    if m not in order:
        for d in deps(m):
            visit(d)
        order.append(m)
for m in ["virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "isofs", "btrfs", "ext4", "button"]:
    visit(m)
for m in order:
    print(m, os.path.relpath(paths[m], M))
PY
)
echo "$MODS" | while read -r name rel; do
	mkdir -p "$W/root/lib/modules/$KVER/$(dirname "$rel")"
	cp "$M/$rel" "$W/root/lib/modules/$KVER/$rel"
done
echo "$MODS" | awk '{print $1}' | tr '\n' ' '; echo

echo "== spec"
python3 - "$KVER" "$MODS" > "$W/root/etc/tinyboot/spec.json" <<'PY'
import json, sys
mods = [{"name": l.split()[0], "path": l.split()[1]} for l in sys.argv[2].splitlines()]
print(json.dumps({
    "version": 1, "name": "bootcheck", "hostname": "bootcheck", "kernel_version": sys.argv[1],
    "modules": mods,
    "app": {"path": "/bin/hello", "args": ["-v"], "env": {"GREETING": "hi"},
            "stop_timeout": "10s", "restart": "on-failure", "on_exit": "poweroff"},
    "iso": {"volume_id": "HELLO"},
    "persistent": {"label": "tinyboot", "fs": "btrfs", "required": True, "wait": "10s"},
    "network": {"dhcp": True, "wait": "30s"},
    "time": {"ntp": ["10.0.2.2"], "wait": "3s"},
}, indent=2))
PY

echo "== initramfs and disks"
(cd "$W/root" && find . | cpio -o -H newc --quiet | gzip -1 > "$W/initrd.gz")
ls -l "$W/initrd.gz"
rm -f "$W/disk.img" && truncate -s 256M "$W/disk.img" && mkfs.btrfs -q -L tinyboot "$W/disk.img"
mkdir -p "$W/isodir" && echo hello > "$W/isodir/README.TXT"
xorriso -as mkisofs -quiet -V HELLO -o "$W/hello.iso" "$W/isodir" 2>/dev/null

echo "== boot"
# A tiny NTP server on the host: slirp forwards the guest's 10.0.2.2:123
# to it. The guest's RTC starts in 2020 so the agent must step the clock.
python3 - <<'PY' &
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 123))
s.settimeout(240)
while True:
    try:
        req, addr = s.recvfrom(512)
    except socket.timeout:
        break
    now = time.time() + 2208988800
    ts = struct.pack(">II", int(now), int((now % 1) * 2**32))
    s.sendto(bytes([0x24, 2, 0, 0xec]) + bytes(8) + b"LOCL" + ts + req[40:48] + ts + ts, addr)
PY
NTPPID=$!
trap 'kill $NTPPID 2>/dev/null || true' EXIT
rm -f "$W/q.sock" "$W/console.log"
qemu-system-x86_64 -rtc base=2020-01-01T00:00:00 -accel tcg -machine q35 -m 512 -nographic -no-reboot \
	-kernel "$K/boot/vmlinuz-$KVER" -initrd "$W/initrd.gz" -append "console=ttyS0 panic=-1 quiet" \
	-nic user,model=virtio-net-pci \
	-drive file="$W/disk.img",if=virtio,format=raw \
	-drive file="$W/hello.iso",if=virtio,format=raw,readonly=on \
	-qmp unix:"$W/q.sock",server,nowait > "$W/console.log" 2>&1 &
QPID=$!
T0=$(date +%s)
until grep -q 'hello: hostname' "$W/console.log"; do
	if ! kill -0 $QPID 2>/dev/null || [ $(( $(date +%s) - T0 )) -gt 180 ]; then
		cat "$W/console.log"; echo "bootcheck: app did not start"; kill $QPID 2>/dev/null || true; exit 1
	fi
	sleep 1
done
echo "app up after $(( $(date +%s) - T0 ))s wall; shutting down ($MODE)"
python3 - "$W/q.sock" "$MODE" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
cmds = [{"execute": "qmp_capabilities"}]
if sys.argv[2] == "cad":
    keys = [{"type": "qcode", "data": k} for k in ("ctrl", "alt", "delete")]
    cmds.append({"execute": "send-key", "arguments": {"keys": keys}})
else:
    cmds.append({"execute": "system_powerdown"})
for c in cmds:
    f.write(json.dumps(c) + "\n"); f.flush(); f.readline()
PY
T1=$(date +%s)
while kill -0 $QPID 2>/dev/null; do
	if [ $(( $(date +%s) - T1 )) -gt 60 ]; then echo "bootcheck: QEMU still running"; kill $QPID; exit 1; fi
	sleep 1
done
echo "QEMU exited $(( $(date +%s) - T1 ))s after the $MODE request"
echo "== console"
grep -a -e '^tinyboot:' -e '^hello:' "$W/console.log"

fail=0
for want in 'modules: loaded ' 'iso: mounted /dev/vdb at /iso (volume HELLO)' \
	'persistent: mounted /dev/vda at /persistent (btrfs, label tinyboot)' \
	'network: eth0: leased 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3' 'boot: ready in ' \
	'time: stepped clock by +' 'app: started /bin/hello' 'nameserver 10.0.2.3' 'TINYBOOT_PERSISTENT=/persistent' \
	'shutdown: stopping app (SIGTERM, timeout 10s)' 'hello: got SIGTERM' \
	'app: exited with status 0' 'shutdown: synced and unmounted /persistent' 'shutdown: released DHCP leases' \
	"$( [ "$MODE" = cad ] && echo 'shutdown: ctrl-alt-del' || echo 'shutdown: power button' )" \
	"$( [ "$MODE" = cad ] && echo 'shutdown: rebooting' || echo 'shutdown: powering off' )"; do
	grep -aqF "$want" "$W/console.log" || { echo "bootcheck: missing: $want"; fail=1; }
done
[ $fail = 0 ] && echo "bootcheck: OK"
exit $fail
