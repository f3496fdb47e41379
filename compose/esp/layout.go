package esp

import "errors"

const (
	// minReservedSectors is the boot sector alone; fit adds reserved
	// sectors so that the data area starts on a CD sector (see imageAlign).
	minReservedSectors = 1
	numFATs            = 2

	// The FAT type is decided by the cluster count alone: below 4085 it is
	// FAT12, below 65525 FAT16. Drivers disagree by one at the edges, so
	// stay 16 clusters clear of them, as Microsoft's spec advises.
	fat12MaxClusters = 4085 - 1 - 16
	fat16MinClusters = 4085 + 16
	fat16MaxClusters = 65525 - 1 - 16

	// maxSectorsPerCluster caps clusters at 32 KiB; 64 KiB clusters are
	// legal but not every driver copes.
	maxSectorsPerCluster = 64

	// imageAlign is the granularity of the image: 2048-byte CD sectors, so
	// the ISO can embed it as the El Torito EFI image. The data area and
	// every cluster are aligned to it too, so a file's data starts on a CD
	// sector of the ISO holding the image and an ISO9660 file can point at
	// it (the BIOS loader reads the UKI's kernel and initrd that way).
	imageAlign = 2048 / sectorSize
)

// fatTypes are the FAT types planLayout considers. Tests narrow it to
// exercise FAT16, which only wins for files over ~127 MiB.
var fatTypes = []int{12, 16}

// layout is the geometry of an image.
type layout struct {
	fatBits           int // 12 or 16
	reservedSectors   uint32
	sectorsPerCluster uint32
	rootEntries       uint32
	fatSectors        uint32 // per FAT
	totalSectors      uint32
	clusters          uint32 // data clusters the filesystem has
}

func (l *layout) clusterSize() uint32 { return l.sectorsPerCluster * sectorSize }
func (l *layout) rootSectors() uint32 { return l.rootEntries * dirEntrySize / sectorSize }
func (l *layout) metaSectors() uint32 {
	return l.reservedSectors + numFATs*l.fatSectors + l.rootSectors()
}

// alignData sets the reserved sectors so that the data area starts on an
// imageAlign boundary.
func (l *layout) alignData() {
	l.reservedSectors = minReservedSectors
	l.reservedSectors += (imageAlign - l.metaSectors()%imageAlign) % imageAlign
}

// clustersFor returns how many clusters n's data takes with clusters of cs
// bytes (the root directory has its own region and takes none).
func clustersFor(n *node, isRoot bool, cs uint32) uint32 {
	switch {
	case isRoot:
		return 0
	case n.dir:
		return ceilDiv(uint64(2+len(n.children))*dirEntrySize, uint64(cs)) // "." and ".." too
	default:
		return ceilDiv(uint64(n.file.Size), uint64(cs))
	}
}

// planLayout picks the FAT type and cluster size giving the smallest image
// for the tree; ties go to FAT12 and smaller clusters.
func planLayout(root *node) (*layout, error) {
	var best *layout
	for _, bits := range fatTypes {
		// Clusters of at least a CD sector keep every cluster aligned.
		for spc := uint32(imageAlign); spc <= maxSectorsPerCluster; spc *= 2 {
			l, ok := fit(root, bits, spc)
			if ok && (best == nil || l.totalSectors < best.totalSectors) {
				best = l
			}
		}
	}
	if best == nil {
		return nil, errors.New("files too large for a FAT16 image")
	}
	return best, nil
}

// fit sizes an image of the given FAT type and cluster size for the tree.
func fit(root *node, bits int, spc uint32) (*layout, bool) {
	cs := spc * sectorSize
	var need uint64
	root.walk(func(n, parent *node) { need += uint64(clustersFor(n, parent == nil, cs)) })

	l := &layout{fatBits: bits, sectorsPerCluster: spc}
	rootEntries := uint32(len(root.children))
	lo, hi := uint64(1), uint64(fat12MaxClusters)
	if bits == 16 {
		lo, hi = fat16MinClusters, fat16MaxClusters
		// 512 root entries is what Microsoft's spec asks of FAT16 "for
		// maximum compatibility".
		l.rootEntries = max(512, roundUp(rootEntries, 16))
	} else {
		l.rootEntries = max(16, roundUp(rootEntries, 16))
	}
	c := max(need, lo)
	if c > hi {
		return nil, false
	}
	// Rounding the image up to whole CD sectors can add clusters, which may
	// need a bigger FAT; iterate until the FAT covers every cluster.
	for {
		l.clusters = uint32(c)
		l.fatSectors = fatSectors(bits, l.clusters)
		l.alignData()
		total := roundUp64(uint64(l.metaSectors())+c*uint64(spc), imageAlign)
		c2 := (total - uint64(l.metaSectors())) / uint64(spc)
		if c2 > hi || total > 0xffffffff {
			return nil, false
		}
		if fatSectors(bits, uint32(c2)) == l.fatSectors {
			l.clusters = uint32(c2)
			l.totalSectors = uint32(total)
			return l, true
		}
		c = c2
	}
}

// fatSectors returns the sectors one FAT needs for n data clusters (plus the
// two reserved entries).
func fatSectors(bits int, n uint32) uint32 {
	entries := uint64(n) + 2
	bytes := entries * 2
	if bits == 12 {
		bytes = (entries*3 + 1) / 2
	}
	return ceilDiv(bytes, sectorSize)
}

func ceilDiv(a, b uint64) uint32   { return uint32((a + b - 1) / b) }
func roundUp(a, b uint32) uint32   { return (a + b - 1) / b * b }
func roundUp64(a, b uint64) uint64 { return (a + b - 1) / b * b }
