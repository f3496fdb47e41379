// Package agent is tinyboot's init: PID 1 in every image. It reads only
// the baked spec (/etc/tinyboot/spec.json), brings the machine up — API
// filesystems, kernel modules, the boot ISO at /iso, the persistent
// volume at /persistent, the network (static addresses, DHCP), the clock — runs the app as its child, and
// shuts the machine down cleanly on the power button, Ctrl-Alt-Del, a
// request on /run/tinyboot/control (package guest), a signal to PID 1
// (busybox's: SIGTERM reboot, SIGUSR2 power-off, SIGUSR1 halt) or the
// app's end.
//
// Run holds the logic over a System and a Clock, so tests drive it with
// fakes; Main wires in Linux, signals, ACPI and DHCP.
//
// # Console lines
//
// Every line is "tinyboot: [SSSSSS.mmm] " (seconds since boot from
// CLOCK_BOOTTIME, right-aligned in six columns, then milliseconds) and one
// of these; D is a duration in Go syntax rounded to milliseconds. End-to-end
// tests grep them: change them only together with those tests.
//
//	setup: mounted filesystems in D
//	log: sending to syslog udp://10.0.2.2:5514
//	log: app output to syslog: ERROR
//	setup: ERROR
//	spec: ERROR
//	spec: cannot start the app; powering off in 30s
//	hostname: ERROR
//	modules: loaded N of M in D: NAME (spec), NAME, NAME (DEVICE DEVICE), ...
//	modules: loaded N of M in D: ... (not for this machine: NAME NAME)
//	modules: loaded N in D: NAME, NAME (DEVICE)
//	modules: loaded N in D: NAME (iso9660)
//	modules: loaded N in D: NAME (kernel: REQUEST)
//	modules: kernel asked for REQUEST: not in the image
//	modules: kernel request "ARGS": ERROR
//	modules: NAME: ERROR
//	modules: ERROR; devices that appear later get no driver
//	watchdog: armed /dev/watchdog (i6300ESB timer, timeout 1m0s)
//	watchdog: ERROR
//	iso: mounted /dev/sr0 at /iso (volume HELLO)
//	iso: mount /dev/sr0 at /iso: ERROR
//	iso: not found
//	iso: none on this boot (tinyboot.iso=none)
//	persistent: mounted /dev/vdb at /persistent (btrfs, label tinyboot)
//	persistent: mount /dev/vdb at /persistent (btrfs, found ext4): ERROR
//	persistent: no volume labelled "tinyboot" after 10s
//	persistent: required volume missing; powering off
//	persistent: required volume not mounted; powering off
//	network: eth0: static 10.0.2.15/24 fd00::15/64 via 10.0.2.2 fd00::2 dns 10.0.2.3 mtu 1500
//	network: eth0: static 10.0.2.15/24 via 10.0.2.2: ERROR
//	network: eth1: not configured (network.dhcp is false)
//	network: network.interfaces[1] (eth2) matches no interface
//	network: eth0: leased 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3 (lease 24h0m0s)
//	network: eth0: renewed 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3 (lease 24h0m0s)
//	network: eth0: mtu 1400
//	network: eth0: no lease (ERROR); retrying in 2s
//	network: eth0: renew: ERROR; retrying in 1m0s
//	network: eth0: lease on 10.0.2.15/24 expired
//	network: eth0: lease on 10.0.2.15/24 refused (NAK)
//	network: no lease after 30s; starting the app anyway
//	network: no network interface
//	time: stepped clock by +1h2m3s (server 10.0.2.2)
//	time: no SNTP answer after 5s
//	time: no SNTP answer (ERROR)
//	boot: ready in D (modules D, storage D, network D, time D)
//	app: started /bin/hello (pid 123)
//	app: /iso/tinyboot/hello is on the ISO (app.run_from: iso), and no ISO is mounted; powering off
//	app: start /bin/hello: ERROR
//	app: exited with status 0
//	app: killed by signal 9
//	app: restarting in 2s
//	acpi: ERROR
//	shutdown: power button | ctrl-alt-del | SIGTERM | SIGUSR1 | SIGUSR2 | power failing
//	shutdown: app asked to reboot | app asked to power off | app asked to halt
//	signal: ignored SIGHUP
//	control: unknown request "VALUE"
//	shutdown: app ended (on_exit reboot)
//	shutdown: stopping app (SIGTERM, timeout 10s)
//	shutdown: app still running after 10s; sending SIGKILL
//	shutdown: processes still running 2s after SIGKILL; going on
//	shutdown: synced and unmounted /persistent
//	shutdown: synced and remounted /persistent read-only (unmount: ERROR)
//	shutdown: released DHCP leases
//	shutdown: rebooting | powering off | halting
//	watchdog: disarmed
//	watchdog: disarm: ERROR
//	agent: panic: VALUE
//
// The first modules line is the boot's coldplug: of the M modules in the
// image, the N loaded for the spec (its modules: list), for the devices
// present (sysfs names in parentheses) and what those need (no
// parentheses), in load order. The "loaded N in D" lines come later: a
// device the kernel announced (USB storage, a SCSI disk behind a freshly
// loaded controller, a hot-added disk or NIC), a filesystem about to be
// mounted, or the kernel's own request_module (the agent is its module
// helper, /proc/sys/kernel/modprobe). A request the image cannot serve is
// logged once per boot.
//
// With log.syslog set, every line above and every line of the app's
// output also goes to the server (package syslog), from the first line on.
//
// In the boot line, modules D is the boot's coldplug only; network D runs
// from DHCP's start (right after the
// modules, concurrently with the storage search) to the first lease or
// network.wait, so the parts can add up to more than the total.
package agent
