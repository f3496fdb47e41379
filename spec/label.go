package spec

// Filesystem label limits, in bytes (btrfs: BTRFS_LABEL_SIZE-1; ext4: the
// superblock's s_volume_name), shared by the spec's checks and the disks
// tbcompose makes.
const (
	MaxLabelBtrfs = 255
	MaxLabelExt4  = 16
)

// MaxLabel is the longest label, in bytes, a persistent filesystem holds;
// an unknown filesystem gets btrfs's limit (the schema rejects it anyway).
func MaxLabel(fs string) int {
	if fs == FSExt4 {
		return MaxLabelExt4
	}
	return MaxLabelBtrfs
}
