package agent

import (
	"sort"
	"time"

	"github.com/tinyboot/tinyboot/agent/blkid"
	"github.com/tinyboot/tinyboot/spec/baked"
)

// isoWait bounds the search for the boot ISO. The baked spec has no field
// for it: the ISO is the medium the machine booted from, so its driver is
// loaded with the others and it shows up as fast as the persistent disk.
const isoWait = 5 * time.Second

// pollInterval is how often /sys/class/block is re-read while waiting for
// devices, which appear asynchronously after their drivers load.
const pollInterval = 20 * time.Millisecond

// registerGrace is how long a disk may look as if the kernel were still
// adding it (BlockDevice.Registering) before it is probed anyway: a kernel
// that never links a disk to its bdi must not hide the disk for good.
const registerGrace = time.Second

// candidate is a device with a filesystem.
type candidate struct {
	dev  BlockDevice
	info blkid.Info
}

// storageResult is what findStorage found; empty names mean not found.
type storageResult struct {
	iso, isoLabel string
	pers          string
	persInfo      blkid.Info
}

// storageFound is what findStorage calls as each of its searches is
// settled; nil callbacks are skipped.
type storageFound struct {
	// iso is called once the ISO is found, or its wait is over (res.iso
	// is empty then); not with noISO.
	iso func(res storageResult)
	// persistent is called once the persistent volume is found or its
	// wait is over (res.pers is empty then); only when one is wanted.
	persistent func(res storageResult)
}

// findStorage polls block devices until it has both the ISO and the
// persistent volume (when one is wanted) or their waits have passed, and
// calls found's callbacks as each is settled, so that neither mount waits
// for the other search. The waits (isoWait, persistent.wait) count from
// when modsIn is closed: the search may start while the drivers load, and
// never gives up before they are in. It returns at once, without calling
// what is still unsettled, when stop is closed. With noISO the boot has no
// ISO: it is not searched for.
func findStorage(sys System, clock Clock, cfg *baked.Config, noISO bool, modsIn, stop <-chan struct{}, found storageFound) storageResult {
	var start time.Time
	timing := false
	var res storageResult
	wantPers := cfg.Persistent != nil
	persWait := time.Duration(0)
	if wantPers {
		persWait = cfg.Persistent.Wait.Std()
	}
	probed := map[string]blkid.Info{}
	// registering holds when each disk was first seen still being added;
	// listed holds the devices of the previous poll.
	registering := map[string]time.Time{}
	listed := map[string]bool{}
	isoSettled, persSettled := noISO, !wantPers
	for {
		if !timing {
			select {
			case <-modsIn:
				start, timing = clock.Now(), true
			default:
			}
		}
		devs, _ := sys.BlockDevices()
		var isos []candidate
		present := map[string]bool{}
		for _, d := range devs {
			present[d.Name] = true
		}
		for _, d := range devs {
			info, ok := probed[d.Name]
			if !ok && !probeable(d, listed, registering, clock.Now()) {
				continue
			}
			if !ok {
				var err error
				info, err = sys.Probe(d.Name)
				if err != nil {
					// Unreadable or unknown now; a medium may still arrive
					// (an empty CD drive), so probe again next round.
					continue
				}
				probed[d.Name] = info
			}
			switch {
			case info.Type == blkid.ISO9660:
				// A partition only counts once its disk is visible (and so
				// probed): the kernel lists the disk first, but a hybrid
				// ISO's whole disk must win over its partition.
				if !d.Partition || present[d.Parent] {
					isos = append(isos, candidate{d, info})
				}
			case wantPers && res.pers == "" && info.Label == cfg.Persistent.Label &&
				(info.Type == blkid.Btrfs || info.Type == blkid.Ext4):
				res.pers, res.persInfo = d.Name, info
			}
		}
		listed = present
		var elapsed time.Duration
		if timing {
			elapsed = clock.Now().Sub(start)
		}
		isoDone := timing && elapsed >= isoWait
		if res.iso == "" && !isoSettled {
			if c, ok := bestISO(isos, cfg.ISO.VolumeID, isoDone); ok {
				res.iso, res.isoLabel = c.dev.Name, c.info.Label
			}
		}
		if !isoSettled && (res.iso != "" || isoDone) {
			isoSettled = true
			if found.iso != nil {
				found.iso(res)
			}
		}
		if !persSettled && (res.pers != "" || timing && elapsed >= persWait) {
			persSettled = true
			if found.persistent != nil {
				found.persistent(res)
			}
		}
		if isoSettled && persSettled {
			return res
		}
		select {
		case <-clock.After(pollInterval):
		case <-stop:
			return res
		}
	}
}

// probeable reports whether d may be opened now: a disk once the kernel
// has finished adding it (or registerGrace after it was first seen still
// being added: first is updated), a partition once it was listed in the
// previous poll too (listed), as the kernel adds it to sysfs a moment
// before it can be opened. Opening either too early is harmless but makes
// the kernel run the module helper for it, costly under emulation.
func probeable(d BlockDevice, listed map[string]bool, first map[string]time.Time, now time.Time) bool {
	if d.Partition {
		return listed[d.Name]
	}
	if !d.Registering {
		return true
	}
	t, ok := first[d.Name]
	if !ok {
		first[d.Name] = now
		return false
	}
	return now.Sub(t) >= registerGrace
}

// bestISO picks the iso9660 device to mount: one carrying the baked volume
// id, and among those a whole disk over a partition — a hybrid ISO attached
// as a disk shows the filesystem on vda and its ESP on vda1. Without a
// matching id it settles for any iso9660 device, but only once the wait is
// over (final), in case the right one is still appearing.
func bestISO(isos []candidate, volumeID string, final bool) (candidate, bool) {
	sort.Slice(isos, func(i, j int) bool {
		a, b := isos[i], isos[j]
		am, bm := a.info.Label == volumeID, b.info.Label == volumeID
		if am != bm {
			return am
		}
		if a.dev.Partition != b.dev.Partition {
			return !a.dev.Partition
		}
		return a.dev.Name < b.dev.Name
	})
	if len(isos) == 0 {
		return candidate{}, false
	}
	if isos[0].info.Label == volumeID && volumeID != "" || final {
		return isos[0], true
	}
	return candidate{}, false
}

// mountISO mounts the ISO findStorage found and reports it.
func (a *agent) mountISO(res storageResult) {
	if res.iso == "" {
		a.log.Printf("iso: not found")
	} else {
		dev := "/dev/" + res.iso
		a.needFilesystem(blkid.ISO9660)
		if err := a.sys.Mount(dev, baked.ISOMount, blkid.ISO9660, msRdonly, ""); err != nil {
			a.log.Printf("iso: mount %s at %s: %v", dev, baked.ISOMount, err)
		} else {
			a.isoMounted = true
			a.log.Printf("iso: mounted %s at %s (volume %s)", dev, baked.ISOMount, res.isoLabel)
		}
	}
}

// mountPersistent mounts the volume findStorage found and reports it. It
// returns false when a required persistent volume is unusable.
func (a *agent) mountPersistent(res storageResult) bool {
	p := a.cfg.Persistent
	if p == nil {
		return true
	}
	if res.pers == "" {
		a.log.Printf("persistent: no volume labelled %q after %s", p.Label, p.Wait.Std())
		if p.Required {
			a.log.Printf("persistent: required volume missing; powering off")
			return false
		}
		return true
	}
	dev := "/dev/" + res.pers
	a.needFilesystem(p.FS)
	if err := a.sys.Mount(dev, baked.PersistentMount, p.FS, 0, ""); err != nil {
		a.log.Printf("persistent: mount %s at %s (%s, found %s): %v", dev, baked.PersistentMount, p.FS, res.persInfo.Type, err)
		if p.Required {
			a.log.Printf("persistent: required volume not mounted; powering off")
			return false
		}
		return true
	}
	a.persMounted = true
	a.givePersistent()
	a.log.Printf("persistent: mounted %s at %s (%s, label %s)", dev, baked.PersistentMount, p.FS, p.Label)
	return true
}

// msRdonly is MS_RDONLY; spelled out to keep x/sys/unix out of the
// portable code.
const msRdonly = 1
